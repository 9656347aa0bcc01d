import Foundation
import Synchronization
import YidangModel

/// An ICU transform applied one character at a time, each character's result remembered:
/// names and addresses are written with a few thousand characters, and a call into ICU's
/// transliterator costs microseconds (a fifth of a bulk import's time before this cache).
/// The transforms used here (Hant-Hans, Han-Latin) map characters one by one. Results for
/// the CJK blocks (U+3400…U+9FFF) are kept in a flat table as up to eight UTF-8 bytes packed
/// in a word (a simplified character, a pinyin syllable), found without hashing or copying.
///
/// A transform with frozen results (``CJKTables``) has that table filled from them when
/// first used, and calls ICU only for characters outside it: blocking keys, which the store
/// keeps, then do not change with the toolchain's ICU, and a process does not spend the
/// tens of milliseconds ICU takes to compile a transform's rules.
final class CharacterTransform: Sendable {
    private let transform: String
    private let finish: @Sendable (String) -> String
    private struct Cache: ~Copyable {
        /// Little-endian UTF-8 bytes of each character's result; 0: not known yet.
        var table = [UInt64](repeating: 0, count: Int(CJKTables.range.count))
        /// Results that do not fit a word, and characters outside the table.
        var others: [Unicode.Scalar: [UInt8]] = [:]

        /// Remembers `result` as the result of the table's `i`th character.
        mutating func remember(_ result: ArraySlice<UInt8>, at i: Int) {
            if (1...8).contains(result.count) {
                // Packed by shifts: through the generic `reversed().reduce`, filling the
                // frozen readings took 22 M instructions of a process's first name read aloud,
                // about 800 an entry (callgrind).
                var word: UInt64 = 0, shift: UInt64 = 0
                for byte in result { word |= UInt64(byte) << shift; shift += 8 }
                table[i] = word
            } else {
                others[Unicode.Scalar(CJKTables.range.lowerBound + UInt32(i))!] = Array(result)
            }
        }
    }
    private let cache: Mutex<Cache>
    /// Whether a character of the table that has no result is its own (a frozen transform
    /// that changes few characters lists only those), rather than not known yet.
    private let unlistedAreThemselves: Bool

    /// - Parameters:
    ///   - frozen: fills a table's results ahead (see ``CJKTables``), called once, when the
    ///     transform is first used; nil to ask ICU for every character.
    ///   - finish: applied to each character's result from ICU once, before it is remembered.
    ///   - unlistedAreThemselves: with `frozen`, whether a character of the table it gives
    ///     no result is its own result (so that a transform changing few characters need not
    ///     list every other one).
    init(_ transform: String, frozen: (@Sendable (_ remember: (_ index: Int, _ result: ArraySlice<UInt8>) -> Void) -> Void)? = nil,
         unlistedAreThemselves: Bool = false, finish: @escaping @Sendable (String) -> String = { $0 }) {
        self.transform = transform
        self.finish = finish
        self.unlistedAreThemselves = frozen != nil && unlistedAreThemselves
        var cache = Cache()
        frozen? { i, result in cache.remember(result, at: i) }
        // A character of the table is then either in the table or its own result: none may
        // be set aside among the results that do not fit a word.
        precondition(!self.unlistedAreThemselves || cache.others.isEmpty, "\(transform): a frozen result longer than eight bytes")
        self.cache = Mutex(cache)
    }

    /// Calls `body` with an appender of characters' results (as UTF-8) to a buffer, under one
    /// lock for the whole text.
    func withAppender<R>(_ body: ((Unicode.Scalar, inout [UInt8]) -> Void) -> R) -> R {
        cache.withLock { known in
            body { scalar, out in
                let inTable = CJKTables.range.contains(scalar.value)
                let i = Int(scalar.value &- CJKTables.range.lowerBound)
                if inTable, case var packed = known.table[i], packed != 0 {
                    while packed != 0 { out.append(UInt8(truncatingIfNeeded: packed)); packed >>= 8 }
                    return
                }
                if inTable && unlistedAreThemselves {
                    UTF8.encode(scalar) { out.append($0) }
                    return
                }
                if let r = known.others[scalar] { out += r; return }
                let r = icu(scalar)
                if inTable { known.remember(r[...], at: i) } else { known.others[scalar] = r }
                out += r
            }
        }
    }

    /// ICU's result for one character, finished.
    private func icu(_ scalar: Unicode.Scalar) -> [UInt8] {
        let text = String(scalar)
        return Array(finish(text.applyingTransform(StringTransform(transform), reverse: false) ?? text).utf8)
    }
}

/// ICU's results for the CJK blocks, generated once (`Tools/cjk-tables.swift`) and kept in
/// the source (`CJKTables.swift`).
enum CJKTables {
    /// The characters the tables cover: CJK Unified Ideographs and Extension A.
    static let range: ClosedRange<UInt32> = 0x3400...0x9FFF

    /// Calls `body` with each entry of a generated list (separated by spaces and line breaks),
    /// in order, as UTF-8.
    static func forEachEntry(of list: String, _ body: (ArraySlice<UInt8>) -> Void) {
        let bytes = Array(list.utf8)
        var start = 0
        for i in bytes.indices where bytes[i] == 0x20 || bytes[i] == 0x0A {
            if i > start { body(bytes[start..<i]) }
            start = i + 1
        }
        if start < bytes.count { body(bytes[start...]) }
    }

    /// Fills a ``CharacterTransform``'s table with ``readings``: the `n`th entry is the
    /// reading of U+3400 + n.
    @Sendable static func fillReadings(_ remember: (Int, ArraySlice<UInt8>) -> Void) {
        var n = 0
        forEachEntry(of: readings) { remember(n, $0); n += 1 }
        precondition(n == range.count, "CJKTables.readings holds \(n) results for \(range.count) characters")
    }

    /// Fills a ``CharacterTransform``'s table with ``simplifications``: the characters listed
    /// (each, then its result). Every other character is its own result, which the transform
    /// is made to assume (`unlistedAreThemselves`) rather than given: writing all 27,136 of
    /// them was 28 M instructions of each process's first folded text (callgrind).
    @Sendable static func fillSimplifications(_ remember: (Int, ArraySlice<UInt8>) -> Void) {
        forEachEntry(of: simplifications) { entry in
            // A character of the range is three bytes of UTF-8.
            let key = String(decoding: entry.prefix(3), as: UTF8.self).unicodeScalars.first!.value
            precondition(range.contains(key) && entry.count > 3, "CJKTables.simplifications: a malformed entry")
            remember(Int(key - range.lowerBound), entry.dropFirst(3))
        }
    }
}

/// The forms of a text that comparisons look at: folded (width, case, spaces, traditional
/// characters) and read aloud (pinyin).
public enum ComparableText {
    /// Width-folded, traditional characters as simplified, lower case, without spaces or
    /// the separators names and addresses are written with (`·`, `-`, `,`…). "張 三" and
    /// "张三" fold alike, as do "John  SMITH" and "john smith".
    public static func folded(_ text: String) -> String {
        let s = Normalizer.foldWidth(text)
        var out: [UInt8] = []
        out.reserveCapacity(s.utf8.count)
        simplified.withAppender { simplified in
            for scalar in s.unicodeScalars where !isSeparator(scalar) {
                if scalar.value < 0x80 {
                    out.append(UInt8(lowercased(scalar).value))
                } else if scalar.value < 0x3400 {
                    UTF8.encode(scalar) { out.append($0) }
                } else {
                    simplified(scalar, &out)
                }
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The pinyin of a folded text without tones or spaces ("曾国藩" → "zengguofan"): ICU's
    /// Han-Latin reading, with the surname readings ICU gets wrong taken from a table.
    public static func pinyin(ofFolded text: String) -> String {
        var head = "", rest = Substring(text)
        // Compared by scalars, and only where the first one matches: String's prefix test is
        // Unicode-aware and slow on Han text, and trying each surname in full was half of a
        // name's reading (callgrind, the registry snapshot's rebuild).
        if let first = text.unicodeScalars.first {
            for (surname, reading) in surnameReadings
            where surname[0] == first && text.unicodeScalars.starts(with: surname) {
                head = reading
                rest = text.dropFirst(surname.count)
                break
            }
        }
        var out = Array(head.utf8)
        reading.withAppender { reading in
            for scalar in rest.unicodeScalars {
                if scalar.value < 0x80 {
                    if scalar != " " && scalar != "'" { out.append(UInt8(lowercased(scalar).value)) }
                } else {
                    reading(scalar, &out)
                }
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// An ASCII scalar in lower case.
    @inline(__always) static func lowercased(_ s: Unicode.Scalar) -> Unicode.Scalar {
        s.value >= 65 && s.value <= 90 ? Unicode.Scalar(UInt8(s.value + 32)) : s
    }

    /// Traditional characters as simplified (ICU Hant-Hans).
    static let simplified = CharacterTransform("Hant-Hans", frozen: CJKTables.fillSimplifications, unlistedAreThemselves: true)
    /// Characters as ASCII pinyin without tones (ICU Han-Latin; Latin-ASCII).
    static let reading = CharacterTransform("Han-Latin; Latin-ASCII", frozen: CJKTables.fillReadings,
                                            finish: readingFinish)
    /// What ICU's reading of a character becomes: lower case, without spaces or apostrophes
    /// (`Tools/cjk-tables.swift` applies the same to the frozen table).
    static let readingFinish: @Sendable (String) -> String = { $0.lowercased().filter { $0 != " " && $0 != "'" } }

    /// Surnames ICU reads by their common reading rather than as a surname
    /// (曾 céng → zeng, 单 dān → shan …), as scalars. Two-character surnames first.
    static let surnameReadings: [([Unicode.Scalar], String)] = [
        ("尉迟", "yuchi"), ("万俟", "moqi"),
        ("曾", "zeng"), ("单", "shan"), ("解", "xie"), ("查", "zha"), ("仇", "qiu"),
        ("区", "ou"), ("朴", "piao"), ("盖", "ge"), ("缪", "miao"), ("繁", "po"),
    ].map { (Array($0.unicodeScalars), $1) }

    /// Characters two writings of one name or address may differ in: spaces, middle dots,
    /// hyphens and punctuation.
    static func isSeparator(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x20, 0x09, 0x0A, 0x0D, 0x3000, 0xA0: return true
        case 0xB7, 0x2022, 0x30FB, 0x2027, 0xFF65: return true                   // · • ・ ‧
        case 0x2D, 0x2010...0x2015, 0x2C, 0x2E, 0x3001, 0x3002, 0xFF0C, 0x28, 0x29, 0xFF08, 0xFF09: return true
        default: return false
        }
    }

    /// A folded address's parts below the city: each ends at a suffix that closes one
    /// (区 县 镇 乡 街道 路 街 道 巷 弄 村 组 号 幢 栋 楼 单元 室); the province and the city
    /// (parts ending in 省 or 市 before any other) are left out. Empty when nothing closes
    /// a part (free text): callers then compare the whole.
    public static func addressParts(_ folded: String) -> [String] {
        // Each part made once, from a slice of the text: appending scalars to a view and
        // hashing each into a set was most of an address's blocking key (callgrind, the
        // registry snapshot's rebuild).
        let scalars = folded.unicodeScalars
        var parts: [String] = []
        var start = scalars.startIndex
        var below = false
        var previous: Unicode.Scalar = " "
        for i in scalars.indices {
            let s = scalars[i]
            let end = scalars.index(after: i)
            if isProvinceOrCity(s) {
                if below { parts.append(String(scalars[start..<end])) }
                start = end
            } else if closesPart(s, after: previous) {
                below = true
                parts.append(String(scalars[start..<end]))
                start = end
            }
            previous = s
        }
        if start < scalars.endIndex && !parts.isEmpty { parts.append(String(scalars[start...])) }
        return parts
    }

    /// ``addressParts(_:)`` joined, or the whole text when it has none: an address's
    /// blocking key. Found in one pass as one slice, since the parts joined are the text after
    /// the province and the city that come before the first part (listing them first, a string
    /// each, and joining them cost about 4,700 instructions an address: callgrind, the
    /// registry snapshot's rebuild).
    public static func addressKey(_ folded: String) -> String {
        let scalars = folded.unicodeScalars
        // Where the parts begin: after each province or city met before the first part.
        var cut = scalars.startIndex
        var previous: Unicode.Scalar = " "
        var i = scalars.startIndex
        while i < scalars.endIndex {
            let s = scalars[i]
            let next = scalars.index(after: i)
            if isProvinceOrCity(s) {
                cut = next
            } else if closesPart(s, after: previous) {
                return cut == scalars.startIndex ? folded : String(scalars[cut...])
            }
            previous = s
            i = next
        }
        return folded
    }

    /// Whether a character closes an address part below the city, after `previous` (元 after
    /// 单 closes 单元). ``addressParts(_:)`` and ``addressKey(_:)`` cut by this one rule.
    static func closesPart(_ s: Unicode.Scalar, after previous: Unicode.Scalar) -> Bool {
        switch s {
        case "区", "县", "镇", "乡", "路", "街", "道", "巷", "弄", "村", "组", "号", "幢", "栋", "楼", "室": return true
        case "元": return previous == "单"
        default: return false
        }
    }

    /// Whether a character ends a province or a city (省, 市): such a part before the first
    /// part below the city is left out.
    static func isProvinceOrCity(_ s: Unicode.Scalar) -> Bool { s == "省" || s == "市" }

    /// Dice coefficient of the two texts' character bigrams (1 for equal texts, 0 for texts
    /// sharing no pair of adjacent characters).
    public static func bigramDice(_ a: String, _ b: String) -> Double {
        let x = bigrams(a), y = bigrams(b)
        guard !x.isEmpty || !y.isEmpty else { return a == b ? 1 : 0 }
        var counts: [UInt64: Int] = [:]
        for g in x { counts[g, default: 0] += 1 }
        var shared = 0
        for g in y { if let c = counts[g], c > 0 { counts[g] = c - 1; shared += 1 } }
        return 2 * Double(shared) / Double(x.count + y.count)
    }

    static func bigrams(_ s: String) -> [UInt64] {
        let scalars = Array(s.unicodeScalars)
        guard scalars.count >= 2 else { return scalars.map { UInt64($0.value) } }
        return (1..<scalars.count).map { UInt64(scalars[$0 - 1].value) << 32 | UInt64(scalars[$0].value) }
    }
}
