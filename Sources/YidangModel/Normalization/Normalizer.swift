import Identifiers
import JSON

/// Why a value was refused for an attribute.
public struct ValueError: Error, Sendable, Equatable {
    public let reason: String
}

/// Validates and normalizes attribute values. The normalized text is what survivorship
/// compares ("张三 " and "张三" agree) and what the golden record stores.
public enum Normalizer {
    /// The normalized text for `value` under `rule`.
    /// - Throws: ``ValueError`` saying why the value is unacceptable.
    public static func normalize(_ value: JSONValue, rule: AttributeRule) throws(ValueError) -> String {
        switch rule.type {
        case .integer:
            let text = try scalarText(value)
            let t = text.trimmingSpaces()
            guard let n = Int64(t) else { throw ValueError(reason: "must be an integer, got \(quoted(text))") }
            guard n >= 0 else { throw ValueError(reason: "must not be negative") }
            return String(n)
        case .decimal:
            let t = try scalarText(value).trimmingSpaces()
            guard isDecimal(t) else { throw ValueError(reason: "must be a decimal number, got \(quoted(t))") }
            return canonicalDecimal(t)
        default:
            guard case .string(let s) = value else {
                throw ValueError(reason: "must be a string, got \(value.typeName)")
            }
            return try normalize(text: s, rule: rule)
        }
    }

    static func normalize(text s: String, rule: AttributeRule) throws(ValueError) -> String {
        let folded = foldWidth(s)
        switch rule.type {
        case .text:
            guard !folded.isEmpty else { throw ValueError(reason: "must not be empty") }
            guard folded.utf8.count <= 2000 else { throw ValueError(reason: "is longer than 2000 bytes") }
            return folded
        case .code:
            guard let values = rule.values, values.contains(folded) else {
                throw ValueError(reason: "must be one of \((rule.values ?? []).joined(separator: ", ")), got \(quoted(folded))")
            }
            return folded
        case .date:
            guard let d = normalizeDate(folded) else { throw ValueError(reason: "must be a real date YYYY-MM-DD, got \(quoted(folded))") }
            return d
        case .phone:
            // Bytes, not Characters: an accepted number is ASCII digits only.
            var digits: [UInt8] = []
            digits.reserveCapacity(folded.utf8.count)
            for b in folded.utf8 where !(b == 0x20 || b == 0x2D || b == 0x28 || b == 0x29) { digits.append(b) }
            var start = 0
            if digits.starts(with: "+86".utf8) { start = 3 } else if digits.starts(with: "0086".utf8) { start = 4 }
            let number = digits[start...]
            guard number.count >= 7, number.count <= 15, number.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
                throw ValueError(reason: "must be a phone number of 7 to 15 digits, got \(quoted(folded))")
            }
            return number.count == folded.utf8.count ? folded : String(decoding: number, as: UTF8.self)
        case .citizenId:
            do { return try CitizenID(s).value } catch { throw ValueError(reason: "is not a valid 公民身份号码: \(error)") }
        case .creditCode:
            do { return try CreditCode(s).value } catch { throw ValueError(reason: "is not a valid 统一社会信用代码: \(error)") }
        case .regionCode:
            guard folded.utf8.count == 6, folded.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), folded.utf8.first != 0x30 else {
                throw ValueError(reason: "must be a six-digit region code, got \(quoted(folded))")
            }
            return folded
        case .integer, .decimal:
            return folded
        }
    }

    /// Trims, maps full-width ASCII and the ideographic space to half-width, and collapses
    /// runs of whitespace into one space.
    public static func foldWidth(_ s: String) -> String {
        // Most values need nothing: return them without building a new string. Told by their
        // bytes first, without decoding each scalar (callgrind of an import: foldWidth
        // 158 M → 100 M instructions).
        if s.utf8.withContiguousStorageIfAvailable({ !$0.contains(where: mayStartFolding) }) ?? false { return s }
        if !s.unicodeScalars.contains(where: { needsFolding($0.value) }) { return s }
        var out = String.UnicodeScalarView()
        var pendingSpace = false
        for scalar in s.unicodeScalars {
            var v = scalar.value
            if v >= 0xFF01 && v <= 0xFF5E { v -= 0xFEE0 }
            if isWhiteSpace(v) { pendingSpace = !out.isEmpty; continue }
            if pendingSpace { out.append(" "); pendingSpace = false }
            out.append(Unicode.Scalar(v) ?? scalar)
        }
        return String(out)
    }

    /// Whether a UTF-8 byte may begin a scalar ``needsFolding(_:)`` holds: ASCII whitespace,
    /// or the lead byte of U+0085 and U+00A0 (C2), U+1680 (E1), U+2000–U+205F (E2), U+3000
    /// (E3), U+FF01–U+FF5E (EF). A string with none of these needs no folding.
    @inline(__always) static func mayStartFolding(_ b: UInt8) -> Bool {
        b == 0x20 || b &- 0x09 < 5 || b == 0xC2 || b &- 0xE1 < 3 || b == 0xEF
    }

    /// Whether `foldWidth` changes or drops this scalar (or may, as a space).
    @inline(__always) static func needsFolding(_ v: UInt32) -> Bool {
        (v >= 0xFF01 && v <= 0xFF5E) || isWhiteSpace(v)
    }

    /// Unicode's White_Space property (a fixed set of 25 scalars), without a table lookup.
    @inline(__always) static func isWhiteSpace(_ v: UInt32) -> Bool {
        if v < 0x80 { return v == 0x20 || (v >= 0x09 && v <= 0x0D) }
        switch v {
        case 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000: return true
        default: return false
        }
    }

    static func scalarText(_ value: JSONValue) throws(ValueError) -> String {
        switch value {
        case .number(let n): return n
        case .string(let s): return foldWidth(s)
        default: throw ValueError(reason: "must be a number, got \(value.typeName)")
        }
    }

    static func isDecimal(_ t: String) -> Bool {
        let parts = t.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2, let whole = parts.first, !whole.isEmpty, whole.allSatisfy({ $0.isASCII && $0.isNumber }) else { return false }
        if parts.count == 2 { return !parts[1].isEmpty && parts[1].allSatisfy { $0.isASCII && $0.isNumber } }
        return true
    }

    static func canonicalDecimal(_ t: String) -> String {
        var parts = t.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        var whole = String(parts[0].drop(while: { $0 == "0" }))
        if whole.isEmpty { whole = "0" }
        if parts.count == 2 {
            while parts[1].hasSuffix("0") { parts[1].removeLast() }
            if !parts[1].isEmpty { return whole + "." + parts[1] }
        }
        return whole
    }

    /// `YYYY-MM-DD`, `YYYY/MM/DD`, `YYYY.MM.DD` or `YYYYMMDD` → `YYYY-MM-DD`, or nil when not a real date.
    public static func normalizeDate(_ s: String) -> String? {
        let digits = Array(s.utf8)
        var y = 0, m = 0, d = 0
        func number(_ slice: ArraySlice<UInt8>) -> Int? {
            guard !slice.isEmpty, slice.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
            return slice.reduce(0) { $0 * 10 + Int($1 - 48) }
        }
        if digits.count == 8, let v = number(digits[0..<8]) {
            y = v / 10000; m = v / 100 % 100; d = v % 100
        } else if digits.count == 10, [UInt8(ascii: "-"), UInt8(ascii: "/"), UInt8(ascii: ".")].contains(digits[4]), digits[7] == digits[4],
                  let yy = number(digits[0..<4]), let mm = number(digits[5..<7]), let dd = number(digits[8..<10]) {
            y = yy; m = mm; d = dd
        } else { return nil }
        guard y >= 1800, y <= 2200, isRealDate(year: y, month: m, day: d) else { return nil }
        if digits.count == 10 && digits[4] == UInt8(ascii: "-") { return s }   // already YYYY-MM-DD
        return String(format4(y)) + "-" + pad2(m) + "-" + pad2(d)
    }

    static func isRealDate(year: Int, month: Int, day: Int) -> Bool {
        guard (1...12).contains(month), day >= 1 else { return false }
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
        return day <= [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
    }
    static func pad2(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
    static func format4(_ v: Int) -> String { String(repeating: "0", count: max(0, 4 - String(v).count)) + String(v) }
    static func quoted(_ s: String) -> String { "\"" + (s.count > 40 ? String(s.prefix(40)) + "…" : s) + "\"" }

    /// The typed JSON for a normalized value (numbers for integer/decimal attributes).
    public static func jsonValue(_ normalized: String, rule: AttributeRule?) -> JSONValue {
        switch rule?.type {
        case .integer?, .decimal?: return .number(normalized)
        default: return .string(normalized)
        }
    }
}

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while s.first?.isWhitespace == true { s.removeFirst() }
        while s.last?.isWhitespace == true { s.removeLast() }
        return String(s)
    }
}
