import YidangModel

/// An attribute's rule as the fold reads it, behind one reference. A rule is a struct of two
/// lists (its values, its precedence): passed by value from where it is kept (an array, a
/// class), it was copied for every call that took it, both lists retained and released
/// through an outlined copy, twice for each assertion folded (callgrind).
final class FoldRule: Sendable {
    let survivorship: Survivorship
    let flagsConflicts: Bool
    let link: EntityKind?

    init(_ rule: AttributeRule) {
        survivorship = Survivorship(rule: rule)
        flagsConflicts = rule.flagsConflicts
        link = rule.link
    }
}
