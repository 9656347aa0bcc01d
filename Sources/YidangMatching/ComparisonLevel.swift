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
        let top = levels.count - 1
        if a == b { return level(top) }
        switch self {
        case .exact:
            return level(0)
        case .text:
            let x = ComparableText.folded(a), y = ComparableText.folded(b)
            if x == y { return level(top) }
            let jw = StringSimilarity.jaroWinkler(x, y)
            return level(jw >= 0.94 ? 2 : jw >= 0.85 ? 1 : 0)
        case .name:
            let x = ComparableText.folded(a), y = ComparableText.folded(b)
            if x == y { return level(top) }
            if ComparableText.pinyin(ofFolded: x) == ComparableText.pinyin(ofFolded: y) { return level(2) }
            // Latin names: one typo in a short name, two in a long one.
            let distance = StringSimilarity.editDistance(x, y)
            if distance <= (max(x.unicodeScalars.count, y.unicodeScalars.count) >= 8 ? 2 : 1) || StringSimilarity.jaroWinkler(x, y) >= 0.92 {
                return level(1)
            }
            return level(0)
        case .date:
            let x = a.split(separator: "-"), y = b.split(separator: "-")
            guard x.count == 3, y.count == 3 else { return level(0) }
            if x[0] == y[0] && x[1] == y[2] && x[2] == y[1] { return level(1) }
            let sameFields = zip(x, y).filter { $0 == $1 }.count
            return level(sameFields == 2 ? 2 : 0)
        case .phone:
            return level(a.suffix(8) == b.suffix(8) && a.count >= 8 && b.count >= 8 ? 1 : 0)
        case .address:
            let x = ComparableText.folded(a), y = ComparableText.folded(b)
            if x == y { return level(top) }
            // By parts below the city ("北仑区", "解放南路", "548号", "17幢", "2389室"): two
            // addresses in one city share its name and nothing else says they are one place.
            let px = ComparableText.addressParts(x), py = ComparableText.addressParts(y)
            guard !px.isEmpty, !py.isEmpty else {
                if Self.addressesOverlap(x, y) { return level(2) }
                return level(ComparableText.bigramDice(x, y) >= 0.35 ? 1 : 0)
            }
            let shared = Set(px).intersection(py).count, fewer = min(px.count, py.count)
            if shared == fewer { return level(2) }
            return level(shared * 2 >= fewer ? 1 : 0)
        case .number:
            guard let x = Double(a), let y = Double(b), max(abs(x), abs(y)) > 0 else { return level(0) }
            return level(abs(x - y) / max(abs(x), abs(y)) <= 0.1 ? 1 : 0)
        }
    }

    /// The best level between any value one record holds and any the other holds (a golden
    /// record is compared by every value a department gave, not only its winner).
    public func compare(_ these: [String], _ those: [String]) -> ComparisonLevel {
        var best = ComparisonLevel.missing
        for a in these {
            for b in those {
                let l = compare(a, b)
                if l > best { best = l }
                if l.rank == levels.count - 1 { return l }
            }
        }
        return best
    }
}
