import JSON
import YidangModel

/// 一数一源: picks the winning statement of an attribute by the configured source
/// precedence, then recency by effective time, then log position.
public struct Survivorship: Sendable {
    public let rule: AttributeRule

    public init(rule: AttributeRule) { self.rule = rule }

    /// Precedence rank of a source: its index in the rule, or after all listed sources. Found
    /// by identity first: statements carry the configuration's own department codes.
    public func rank(of source: String) -> Int { rule.precedence.firstIndex(named: source) { $0 } ?? rule.precedence.count }

    /// Whether `a` beats `b`.
    public func prefers(_ a: Statement, over b: Statement) -> Bool {
        let ra = rank(of: a.source), rb = rank(of: b.source)
        if ra != rb { return ra < rb }
        if a.time != b.time { return a.time > b.time }
        if a.position != b.position { return a.position > b.position }
        return a.source < b.source
    }

    /// The index of the winning active statement, or nil when none is active.
    public func winnerIndex(in statements: [Statement]) -> Int? {
        var best: Int?
        for i in statements.indices where statements[i].isActive {
            if let b = best { if prefers(statements[i], over: statements[b]) { best = i } } else { best = i }
        }
        return best
    }

    /// Active statements ordered winner first.
    public func ranked(_ statements: [Statement]) -> [Statement] {
        // One department stating the attribute is the common case.
        if statements.count == 1 { return statements[0].isActive ? statements : [] }
        return statements.filter(\.isActive).sorted { prefers($0, over: $1) }
    }
}
