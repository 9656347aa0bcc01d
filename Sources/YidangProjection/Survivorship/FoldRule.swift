import YidangModel

/// An attribute's rule as the fold reads it, behind one reference. A rule is a struct of two
/// lists (its values, its precedence): passed by value from where it is kept (an array, a
/// class), it was copied for every call that took it, both lists retained and released
/// through an outlined copy, twice for each assertion folded (callgrind).
final class FoldRule: Sendable {
    let survivorship: Survivorship
    let flagsConflicts: Bool
    let link: EntityKind?
    /// The attribute name's ``AttributeTable/orderWord(_:)``: a record's first statement of the
    /// attribute finds its place among the others without working it out again.
    let orderWord: UInt64

    init(_ rule: AttributeRule, name: String) {
        survivorship = Survivorship(rule: rule)
        flagsConflicts = rule.flagsConflicts
        link = rule.link
        orderWord = AttributeTable.orderWord(name)
    }
}
