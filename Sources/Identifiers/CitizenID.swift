/// 公民身份号码: the 18-character citizen identity number of GB 11643-1999.
///
/// Six digits of administrative region, eight of birth date (YYYYMMDD, a real date),
/// three of sequence (odd for men, even for women) and an ISO 7064 MOD 11-2 check
/// character (`0`–`9` or `X`). ``init(_:)`` accepts full-width digits, a lowercase `x`,
/// surrounding spaces and the legacy 15-digit form (YYMMDD, 19xx century), and always
/// yields the normalized 18-character form.
public struct CitizenID: Hashable, Sendable, CustomStringConvertible {
    /// The normalized 18-character number.
    public let value: String
    public var description: String { value }

    static let weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    static let checkCharacters: [UInt8] = Array("10X98765432".utf8)
    static let provinces: Set<Int> = [11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37,
                                      41, 42, 43, 44, 45, 46, 50, 51, 52, 53, 54, 61, 62, 63, 64, 65,
                                      71, 81, 82, 83]

    /// Parses and normalizes `raw`.
    /// - Throws: ``IdentifierError`` naming the failed rule.
    public init(_ raw: String) throws {
        var b = IdentifierText.clean(raw)
        if b.isEmpty { throw IdentifierError.empty }
        if b.count == 15 {
            for (i, c) in b.enumerated() where !IdentifierText.isDigit(c) {
                throw IdentifierError.character(IdentifierText.character(c), position: i + 1)
            }
            b.insert(contentsOf: Array("19".utf8), at: 6)
            b.append(CitizenID.checkCharacter(b))
        }
        guard b.count == 18 else { throw IdentifierError.length(b.count, expected: "18 (or legacy 15)") }
        if let problem = CitizenID.problem(b.span) { throw problem }
        value = String(decoding: b, as: UTF8.self)
    }

    /// Whether `bytes` are a valid number in its normalized form (ASCII digits and an
    /// upper-case `X`, nothing around them): what ``init(_:)`` would keep as it is. Reads the
    /// bytes in place; a caller that gets true can skip the parse and its copies.
    public static func isNormalized(_ bytes: Span<UInt8>) -> Bool {
        bytes.count == 18 && problem(bytes) == nil
    }

    /// The first rule 18 cleaned characters break (characters, region, birth date, check
    /// character, in that order), or nil when they are a valid number.
    static func problem(_ b: Span<UInt8>) -> IdentifierError? {
        for i in 0..<17 where !IdentifierText.isDigit(b[i]) {
            return IdentifierError.character(IdentifierText.character(b[i]), position: i + 1)
        }
        guard IdentifierText.isDigit(b[17]) || b[17] == UInt8(ascii: "X") else {
            return IdentifierError.character(IdentifierText.character(b[17]), position: 18)
        }
        let province = Int(b[0] - 48) * 10 + Int(b[1] - 48)
        guard CitizenID.provinces.contains(province) else {
            return IdentifierError.region(String(decoding: (0..<6).map { b[$0] }, as: UTF8.self))
        }
        func number(_ range: Range<Int>) -> Int { range.reduce(0) { $0 * 10 + Int(b[$1] - 48) } }
        let year = number(6..<10), month = number(10..<12), day = number(12..<14)
        guard year >= 1800, CalendarDate.isValid(year: year, month: month, day: day) else {
            return IdentifierError.birthDate(String(decoding: (6..<14).map { b[$0] }, as: UTF8.self))
        }
        let expected = CitizenID.checkCharacter(b)
        guard expected == b[17] else {
            return IdentifierError.checkDigit(expected: Character(Unicode.Scalar(expected)), found: Character(Unicode.Scalar(b[17])))
        }
        return nil
    }

    /// The MOD 11-2 check character for the first 17 digits of `b`.
    static func checkCharacter(_ b: [UInt8]) -> UInt8 { checkCharacter(b.span) }
    static func checkCharacter(_ b: Span<UInt8>) -> UInt8 {
        var sum = 0
        for i in 0..<17 { sum += Int(b[i] - 48) * weights[i] }
        return checkCharacters[sum % 11]
    }

    /// The six-digit administrative region code (GB/T 2260).
    public var regionCode: String { String(value.prefix(6)) }
    /// Birth date as `YYYY-MM-DD`.
    public var birthDate: String {
        let d = Array(value.utf8)
        return "\(String(decoding: d[6..<10], as: UTF8.self))-\(String(decoding: d[10..<12], as: UTF8.self))-\(String(decoding: d[12..<14], as: UTF8.self))"
    }
    /// `1` (male) when the sequence is odd, `2` (female) when even (GB/T 2261.1 codes).
    public var genderCode: String { (Int(Array(value.utf8)[16]) - 48) % 2 == 1 ? "1" : "2" }

    /// Masks all but the region prefix and the last four characters: `110105********002X`.
    public var masked: String { CitizenID.mask(value) }
    public static func mask(_ value: String) -> String {
        guard value.count > 10 else { return String(repeating: "*", count: value.count) }
        return String(value.prefix(6)) + String(repeating: "*", count: value.count - 10) + String(value.suffix(4))
    }

    /// Builds a valid number from a region, a birth date (YYYYMMDD) and a 3-digit sequence.
    public static func make(region: String, birth: String, sequence: Int) -> String {
        let seq = String(sequence % 1000)
        let body = region + birth + String(repeating: "0", count: 3 - seq.count) + seq
        return body + String(Unicode.Scalar(checkCharacter(Array(body.utf8))))
    }
}

enum CalendarDate {
    static func isValid(year: Int, month: Int, day: Int) -> Bool {
        guard (1...12).contains(month), day >= 1 else { return false }
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        return day <= days[month - 1]
    }
}
