import YidangModel

/// One value as a comparator reads it, worked out once: folded text, its characters, a
/// name's reading, an address's parts, a date's fields. Matching compares a record with
/// many candidates and training compares hundreds of thousands of pairs; folding and
/// reading a value once per value rather than once per pair is most of their speed. A
/// class: comparing pairs passes values around, and one reference is cheaper to pass than
/// the five it holds.
public final class ComparableValue: Sendable {
    /// The value as stored (normalized by its attribute's type).
    public let value: String
    /// Width, case, separators and traditional characters folded (text, name, address).
    let folded: String
    /// `folded`'s characters, for the edit distances.
    let scalars: [Unicode.Scalar]
    /// Which characters `scalars` holds, each as bit `value % 64` (see ``StringSimilarity/mayReach(_:_:_:_:_:)``).
    let characters: UInt64
    /// A name's pinyin reading.
    let reading: String
    /// An address's parts below the city; a date's year, month and day.
    let parts: [String]

    init(value: String, folded: String, scalars: [Unicode.Scalar], reading: String, parts: [String]) {
        self.value = value; self.folded = folded; self.scalars = scalars; self.reading = reading; self.parts = parts
        characters = StringSimilarity.characterSet(scalars)
    }
}

extension Comparator {
    /// `value` read the way this comparator compares it.
    public func prepare(_ value: String) -> ComparableValue {
        switch self {
        case .exact, .phone, .number:
            return ComparableValue(value: value, folded: value, scalars: [], reading: "", parts: [])
        case .date:
            return ComparableValue(value: value, folded: value, scalars: [], reading: "", parts: value.split(separator: "-").map(String.init))
        case .text:
            let f = ComparableText.folded(value)
            return ComparableValue(value: value, folded: f, scalars: Array(f.unicodeScalars), reading: "", parts: [])
        case .name:
            let f = ComparableText.folded(value)
            return ComparableValue(value: value, folded: f, scalars: Array(f.unicodeScalars), reading: ComparableText.pinyin(ofFolded: f), parts: [])
        case .address:
            let f = ComparableText.folded(value)
            return ComparableValue(value: value, folded: f, scalars: [], reading: "", parts: ComparableText.addressParts(f))
        }
    }

    /// The rank (0 … `levels.count - 1`) at which two prepared values agree.
    public func rank(_ a: ComparableValue, _ b: ComparableValue) -> Int {
        let top = levels.count - 1
        if a.value == b.value { return top }
        switch self {
        case .exact:
            return 0
        case .text:
            if a.folded == b.folded { return top }
            guard StringSimilarity.mayReach(0.85, a.scalars, a.characters, b.scalars, b.characters) else { return 0 }
            let jw = StringSimilarity.jaroWinkler(a.scalars, b.scalars)
            return jw >= 0.94 ? 2 : jw >= 0.85 ? 1 : 0
        case .name:
            if a.folded == b.folded { return top }
            if a.reading == b.reading { return 2 }
            // Latin names: one typo in a short name, two in a long one.
            let limit = max(a.scalars.count, b.scalars.count) >= 8 ? 2 : 1
            if StringSimilarity.editDistance(a.scalars, b.scalars, atMost: limit) <= limit
                || (StringSimilarity.mayReach(0.92, a.scalars, a.characters, b.scalars, b.characters)
                    && StringSimilarity.jaroWinkler(a.scalars, b.scalars) >= 0.92) {
                return 1
            }
            return 0
        case .date:
            let x = a.parts, y = b.parts
            guard x.count == 3, y.count == 3 else { return 0 }
            if x[0] == y[0] && x[1] == y[2] && x[2] == y[1] { return 1 }
            let sameFields = (x[0] == y[0] ? 1 : 0) + (x[1] == y[1] ? 1 : 0) + (x[2] == y[2] ? 1 : 0)
            return sameFields == 2 ? 2 : 0
        case .phone:
            return a.value.utf8.count >= 8 && b.value.utf8.count >= 8 && a.value.utf8.suffix(8).elementsEqual(b.value.utf8.suffix(8)) ? 1 : 0
        case .address:
            if a.folded == b.folded { return top }
            // By parts below the city ("北仑区", "解放南路", "548号", "17幢", "2389室"): two
            // addresses in one city share its name and nothing else says they are one place.
            let px = a.parts, py = b.parts
            guard !px.isEmpty, !py.isEmpty else {
                if Self.addressesOverlap(a.folded, b.folded) { return 2 }
                return ComparableText.bigramDice(a.folded, b.folded) >= 0.35 ? 1 : 0
            }
            var shared = 0   // distinct parts in both
            for i in px.indices where py.contains(px[i]) && !px[..<i].contains(px[i]) { shared += 1 }
            let fewer = min(px.count, py.count)
            if shared == fewer { return 2 }
            return shared * 2 >= fewer ? 1 : 0
        case .number:
            guard let x = Double(a.value), let y = Double(b.value), max(abs(x), abs(y)) > 0 else { return 0 }
            return abs(x - y) / max(abs(x), abs(y)) <= 0.1 ? 1 : 0
        }
    }

    /// The best rank between any value one record holds and any the other holds (a golden
    /// record is compared by every value a department gave, not only its winner), or nil
    /// when either holds none.
    public func rank(_ these: [ComparableValue], _ those: [ComparableValue]) -> Int? {
        guard !these.isEmpty, !those.isEmpty else { return nil }
        if these.count == 1 && those.count == 1 { return rank(these[0], those[0]) }
        let top = levels.count - 1
        var best = 0
        for a in these {
            for b in those {
                let r = rank(a, b)
                if r == top { return r }
                if r > best { best = r }
            }
        }
        return best
    }
}
