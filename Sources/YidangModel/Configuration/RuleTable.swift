import JSON

/// The attribute rules of one entity kind, held for the fold's lookups: by name, finding
/// a name shared with the configuration (as validated and stored events carry it) in one
/// comparison per rule, and by index.
public struct RuleTable: Sendable {
    /// Attribute names, in no particular order, and their rules.
    public let names: [String]
    public let rules: [AttributeRule]

    public init(_ attributes: [String: AttributeRule]) {
        let entries = Array(attributes)
        names = entries.map(\.key)
        rules = entries.map(\.value)
    }

    /// The index of `name`'s rule, or nil when the kind has no such attribute.
    public func index(of name: String) -> Int? { names.firstIndex(named: name) { $0 } }

    /// The rule of `name`, or nil when the kind has no such attribute.
    public func rule(_ name: String) -> AttributeRule? { index(of: name).map { rules[$0] } }

    /// The attribute `name` spells, with the configuration's own instance of its name.
    public subscript(name: String) -> (name: String, rule: AttributeRule)? {
        index(of: name).map { (names[$0], rules[$0]) }
    }
}

extension Configuration {
    /// The rules of `kind`'s attributes (empty when the kind is not configured).
    public func ruleTable(_ kind: EntityKind) -> RuleTable { RuleTable(entity(kind)?.attributes ?? [:]) }
}
