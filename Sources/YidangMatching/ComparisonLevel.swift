import YidangModel

/// How well two values of an attribute agree, as a comparison level of the Fellegi–Sunter
/// model: `missing` when either side has no value (no evidence either way), else from
/// `different` (0) up to `exact` (the comparator's top level).
public struct ComparisonLevel: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// 0 … `Comparator.levelCount - 1`, or nil for missing.
    public let rank: Int?
    public let label: String

    public static let missing = ComparisonLevel(rank: nil, label: "missing")
    public static func < (a: ComparisonLevel, b: ComparisonLevel) -> Bool { (a.rank ?? -1) < (b.rank ?? -1) }
    public var description: String { label }
}

extension Comparator {
    /// The levels of this comparator, from `different` (rank 0) to `exact`.
    public var levels: [String] {
        switch self {
        case .exact: return ["different", "exact"]
        case .text: return ["different", "similar", "close", "exact"]
        case .name: return ["different", "similar", "same reading", "exact"]
        case .date: return ["different", "day and month swapped", "one field off", "exact"]
        case .phone: return ["different", "last 8 digits", "exact"]
        case .address: return ["different", "some parts shared", "most parts shared", "exact"]
        case .number: return ["different", "within 10 %", "exact"]
        }
    }

    func level(_ rank: Int) -> ComparisonLevel { ComparisonLevel(rank: rank, label: levels[rank]) }

    /// The level at which two normalized values agree.
    public func compare(_ a: String, _ b: String) -> ComparisonLevel {
        level(rank(prepare(a), prepare(b)))
    }

    /// The best level between any value one record holds and any the other holds.
    public func compare(_ these: [String], _ those: [String]) -> ComparisonLevel {
        rank(these.map(prepare), those.map(prepare)).map(level) ?? .missing
    }
}
