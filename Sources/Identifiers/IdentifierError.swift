/// Why an identifier was refused. Each case names the rule that failed.
public enum IdentifierError: Error, Equatable, Sendable, CustomStringConvertible {
    case empty
    case length(Int, expected: String)
    case character(Character, position: Int)
    case region(String)
    case birthDate(String)
    case checkDigit(expected: Character, found: Character)
    case organizationCodeCheck(expected: Character, found: Character)

    public var description: String {
        switch self {
        case .empty: return "is empty"
        case let .length(n, expected): return "has \(n) characters, expected \(expected)"
        case let .character(c, position): return "has invalid character '\(c)' at position \(position)"
        case let .region(code): return "has unknown province/region code \(code)"
        case let .birthDate(date): return "has a birth date that does not exist: \(date)"
        case let .checkDigit(expected, found): return "fails its check character: expected '\(expected)', found '\(found)'"
        case let .organizationCodeCheck(expected, found):
            return "has an organization code (positions 9-17) that fails its GB 11714 check: expected '\(expected)', found '\(found)'"
        }
    }
}

/// Shared input clean-up: trims ASCII and ideographic spaces, maps full-width ASCII
/// (U+FF01…U+FF5E) to half-width, and upper-cases letters.
enum IdentifierText {
    static func clean(_ raw: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(18)
        for scalar in raw.unicodeScalars {
            var v = scalar.value
            if v >= 0xFF01 && v <= 0xFF5E { v -= 0xFEE0 }
            if v == 0x3000 || v == 0x20 || v == 0x09 || v == 0x0A || v == 0x0D || v == 0xA0 {
                out.append(0x20); continue
            }
            if v >= 0x61 && v <= 0x7A { v -= 0x20 }
            if v > 0x7F { out.append(0xFF); continue }   // marks a non-ASCII character
            out.append(UInt8(v))
        }
        // trim spaces at both ends
        var start = 0, end = out.count
        while start < end && out[start] == 0x20 { start += 1 }
        while end > start && out[end - 1] == 0x20 { end -= 1 }
        return Array(out[start..<end])
    }

    static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
    static func character(_ b: UInt8) -> Character { b == 0xFF ? "\u{FFFD}" : Character(Unicode.Scalar(b)) }
}
