import Foundation
import YidangModel

/// The forms of a text that comparisons look at: folded (width, case, spaces, traditional
/// characters) and read aloud (pinyin).
public enum ComparableText {
    /// Width-folded, traditional characters as simplified, lower case, without spaces or
    /// the separators names and addresses are written with (`·`, `-`, `,`…). "張 三" and
    /// "张三" fold alike, as do "John  SMITH" and "john smith".
    public static func folded(_ text: String) -> String {
        var s = Normalizer.foldWidth(text)
        if s.unicodeScalars.contains(where: { $0.value >= 0x3400 }) {
            // ICU's Hant-Hans transform: one table lookup per character.
            s = s.applyingTransform(StringTransform("Hant-Hans"), reverse: false) ?? s
        }
        var out = String.UnicodeScalarView()
        for scalar in s.unicodeScalars where !isSeparator(scalar) {
            if scalar.value < 0x80 { out.append(contentsOf: String(scalar).lowercased().unicodeScalars) } else { out.append(scalar) }
        }
        return String(out)
    }

    /// The pinyin of a folded text without tones or spaces ("曾国藩" → "zengguofan"): ICU's
    /// Han-Latin reading, with the surname readings ICU gets wrong taken from a table.
    public static func pinyin(ofFolded text: String) -> String {
        var head = "", rest = Substring(text)
        for (surname, reading) in surnameReadings where text.hasPrefix(surname) {
            head = reading
            rest = text.dropFirst(surname.count)
            break
        }
        let latin = String(rest).applyingTransform(StringTransform("Han-Latin; Latin-ASCII"), reverse: false) ?? String(rest)
        return head + latin.lowercased().filter { $0 != " " && $0 != "'" }
    }

    /// Surnames ICU reads by their common reading rather than as a surname
    /// (曾 céng → zeng, 单 dān → shan …). Two-character surnames first.
    static let surnameReadings: [(String, String)] = [
        ("尉迟", "yuchi"), ("万俟", "moqi"),
        ("曾", "zeng"), ("单", "shan"), ("解", "xie"), ("查", "zha"), ("仇", "qiu"),
        ("区", "ou"), ("朴", "piao"), ("盖", "ge"), ("缪", "miao"), ("繁", "po"),
    ]

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
