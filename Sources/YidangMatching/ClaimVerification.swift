import YidangModel

/// The answer to one claim: never the value itself.
public enum ClaimResult: String, Sendable, CaseIterable {
    /// The claim equals the record's value (after the attribute's normalization).
    case match
    /// The record holds a different value.
    case mismatch
    /// Close but not the record's value: a name read alike or written in another form the
    /// city holds, an address sharing most of its parts, a value another department holds.
    case partial
    /// The hub holds no value for the attribute.
    case unknown
}

/// What the hub holds for one attribute: the golden value and every value a department
/// currently asserts.
public struct HeldValues: Sendable {
    public var golden: String?
    public var asserted: [String]
    public init(golden: String?, asserted: [String]) {
        self.golden = golden
        self.asserted = asserted
    }
    public var isEmpty: Bool { golden == nil && asserted.isEmpty }
}

extension Comparator {
    /// Compares a claim, already normalized by the attribute's rule, with what the hub holds.
    ///
    /// `match` needs the golden value; a value only some department asserts, or a near
    /// form the comparator accepts (a homophone name, an address sharing most of its
    /// parts), is `partial`.
    public func verify(claim: String, against held: HeldValues) -> ClaimResult {
        guard !held.isEmpty else { return .unknown }
        // Most claims are true and written as the record holds them: no folding needed.
        if held.golden == claim { return .match }
        let c = key(claim)
        if let golden = held.golden, key(golden) == c { return .match }
        let all = (held.golden.map { [$0] } ?? []) + held.asserted
        if all.contains(where: { key($0) == c }) { return .partial }
        switch self {
        case .name:
            let reading = ComparableText.pinyin(ofFolded: c)
            if !reading.isEmpty, all.contains(where: { ComparableText.pinyin(ofFolded: key($0)) == reading }) { return .partial }
        case .address:
            if all.contains(where: { Self.addressesOverlap(key($0), c) }) { return .partial }
        default: break
        }
        return .mismatch
    }

    /// The form two values are equal in.
    func key(_ value: String) -> String {
        switch self {
        case .text, .name, .address: return ComparableText.folded(value)
        default: return value
        }
    }

    /// Most parts shared: character bigrams with a Dice coefficient of at least 0.6, or one
    /// address inside the other and at least half its length ("西湖区文三路100号" within
    /// "浙江省杭州市西湖区文三路100号").
    static func addressesOverlap(_ a: String, _ b: String) -> Bool {
        let (short, long) = a.unicodeScalars.count <= b.unicodeScalars.count ? (a, b) : (b, a)
        if !short.isEmpty, long.contains(short), short.unicodeScalars.count * 2 >= long.unicodeScalars.count { return true }
        return ComparableText.bigramDice(a, b) >= 0.6
    }
}
