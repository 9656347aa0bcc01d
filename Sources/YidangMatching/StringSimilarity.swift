/// String similarity on Unicode scalars (a CJK character counts as one), for names written
/// in Latin letters and for free text.
public enum StringSimilarity {
    /// Jaro–Winkler similarity in 0…1 (1: equal), with the usual prefix scale 0.1 over at
    /// most four characters.
    public static func jaroWinkler(_ a: String, _ b: String) -> Double {
        jaroWinkler(Array(a.unicodeScalars), Array(b.unicodeScalars))
    }

    /// ``jaroWinkler(_:_:)`` of two texts' characters.
    public static func jaroWinkler(_ s: [Unicode.Scalar], _ t: [Unicode.Scalar]) -> Double {
        if s.isEmpty && t.isEmpty { return 1 }
        if s.isEmpty || t.isEmpty { return 0 }
        // Which characters found a partner, as bits: names and short texts need no allocation.
        if s.count <= 64 && t.count <= 64 {
            var sMatched: UInt64 = 0, tMatched: UInt64 = 0
            return jaro(s, t, isMatched: { sMatched >> $0 & 1 == 1 }, isPartnered: { tMatched >> $0 & 1 == 1 },
                        mark: { sMatched |= 1 << $0; tMatched |= 1 << $1 })
        }
        var sMatched = [Bool](repeating: false, count: s.count), tMatched = [Bool](repeating: false, count: t.count)
        return jaro(s, t, isMatched: { sMatched[$0] }, isPartnered: { tMatched[$0] }, mark: { sMatched[$0] = true; tMatched[$1] = true })
    }

    @inline(__always)
    private static func jaro(_ s: [Unicode.Scalar], _ t: [Unicode.Scalar], isMatched: (Int) -> Bool, isPartnered: (Int) -> Bool,
                             mark: (Int, Int) -> Void) -> Double {
        s.withUnsafeBufferPointer { s in t.withUnsafeBufferPointer { t in jaro(s, t, isMatched: isMatched, isPartnered: isPartnered, mark: mark) } }
    }

    @inline(__always)
    private static func jaro(_ s: UnsafeBufferPointer<Unicode.Scalar>, _ t: UnsafeBufferPointer<Unicode.Scalar>, isMatched: (Int) -> Bool,
                             isPartnered: (Int) -> Bool, mark: (Int, Int) -> Void) -> Double {
        let window = max(0, max(s.count, t.count) / 2 - 1)
        var matches = 0
        for i in s.indices {
            let lo = max(0, i - window), hi = min(t.count - 1, i + window)
            guard lo <= hi else { continue }
            for j in lo...hi where !isPartnered(j) && s[i] == t[j] {
                mark(i, j); matches += 1
                break
            }
        }
        guard matches > 0 else { return 0 }
        var transpositions = 0, j = 0
        for i in s.indices where isMatched(i) {
            while !isPartnered(j) { j += 1 }
            if s[i] != t[j] { transpositions += 1 }
            j += 1
        }
        let m = Double(matches)
        let jaro = (m / Double(s.count) + m / Double(t.count) + (m - Double(transpositions / 2)) / m) / 3
        var prefix = 0
        while prefix < min(4, s.count, t.count) && s[prefix] == t[prefix] { prefix += 1 }
        return jaro + Double(prefix) * 0.1 * (1 - jaro)
    }

    /// The characters of a text as a set of bits (`value % 64`): two texts' sets bound how
    /// many characters they can share.
    public static func characterSet(_ s: [Unicode.Scalar]) -> UInt64 {
        s.reduce(0) { $0 | 1 << UInt64($1.value & 63) }
    }

    /// Whether the Jaro–Winkler similarity of `s` and `t` can reach `threshold`, from an
    /// upper bound that costs a pass over each text (`sSet`, `tSet`: their
    /// ``characterSet(_:)``): a character whose bit the other text lacks matches nothing, so
    /// the matches are at most those left; with no transpositions and the actual common
    /// prefix that bounds the similarity. Most pairs of unrelated values stop here.
    public static func mayReach(_ threshold: Double, _ s: [Unicode.Scalar], _ sSet: UInt64, _ t: [Unicode.Scalar], _ tSet: UInt64) -> Bool {
        if s.isEmpty || t.isEmpty { return s.isEmpty && t.isEmpty }
        var inT = 0, inS = 0
        for c in s where tSet >> UInt64(c.value & 63) & 1 == 1 { inT += 1 }
        for c in t where sSet >> UInt64(c.value & 63) & 1 == 1 { inS += 1 }
        let m = Double(min(inT, inS))
        guard m > 0 else { return false }
        let jaro = (m / Double(s.count) + m / Double(t.count) + 1) / 3
        var prefix = 0
        while prefix < min(4, s.count, t.count) && s[prefix] == t[prefix] { prefix += 1 }
        return jaro + Double(prefix) * 0.1 * (1 - jaro) >= threshold - 1e-12
    }

    /// The Levenshtein edit distance (insertions, deletions, substitutions).
    public static func editDistance(_ a: String, _ b: String) -> Int {
        editDistance(Array(a.unicodeScalars), Array(b.unicodeScalars), atMost: .max)
    }

    /// The edit distance of two texts' characters, or some value above `limit` as soon as
    /// it is certain to exceed it (lengths further apart than the limit, a row past it).
    public static func editDistance(_ s: [Unicode.Scalar], _ t: [Unicode.Scalar], atMost limit: Int) -> Int {
        if s.isEmpty { return t.count }
        if t.isEmpty { return s.count }
        if abs(s.count - t.count) > limit { return abs(s.count - t.count) }
        return withUnsafeTemporaryAllocation(of: Int.self, capacity: 2 * (t.count + 1)) { rows in
            var previous = 0, current = t.count + 1
            for j in 0...t.count { rows[j] = j }
            for i in 1...s.count {
                rows[current] = i
                var smallest = i
                for j in 1...t.count {
                    let v = min(rows[previous + j] + 1, rows[current + j - 1] + 1, rows[previous + j - 1] + (s[i - 1] == t[j - 1] ? 0 : 1))
                    rows[current + j] = v
                    smallest = min(smallest, v)
                }
                if smallest > limit { return smallest }
                swap(&previous, &current)
            }
            return rows[previous + t.count]
        }
    }
}
