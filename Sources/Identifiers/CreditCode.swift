/// 统一社会信用代码: the 18-character unified social credit code of GB 32100-2015.
///
/// Characters come from a 31-character set (digits and upper-case letters without
/// I, O, S, V, Z). Position 1 is the registering authority, 2 the entity category, 3–8
/// the region code (digits), 9–17 a GB 11714 organization code (with its own check), and
/// 18 a MOD 31 check character. ``init(_:)`` trims spaces and maps full-width and
/// lower-case characters before checking.
public struct CreditCode: Hashable, Sendable, CustomStringConvertible {
    public let value: String
    public var description: String { value }

    static let alphabet: [UInt8] = Array("0123456789ABCDEFGHJKLMNPQRTUWXY".utf8)
    static let weights = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
    static let index: [Int] = {
        var t = [Int](repeating: -1, count: 256)
        for (i, c) in alphabet.enumerated() { t[Int(c)] = i }
        return t
    }()

    /// - Throws: ``IdentifierError`` naming the failed rule.
    public init(_ raw: String) throws {
        let b = IdentifierText.clean(raw)
        if b.isEmpty { throw IdentifierError.empty }
        guard b.count == 18 else { throw IdentifierError.length(b.count, expected: "18") }
        var sum = 0
        for i in 0..<18 {
            let v = CreditCode.index[Int(b[i])]
            guard v >= 0 else { throw IdentifierError.character(IdentifierText.character(b[i]), position: i + 1) }
            if i < 17 { sum += v * CreditCode.weights[i] }
        }
        for i in 2..<8 where !IdentifierText.isDigit(b[i]) {
            throw IdentifierError.character(IdentifierText.character(b[i]), position: i + 1)
        }
        let expected = CreditCode.alphabet[(31 - sum % 31) % 31]
        guard expected == b[17] else {
            throw IdentifierError.checkDigit(expected: Character(Unicode.Scalar(expected)), found: Character(Unicode.Scalar(b[17])))
        }
        do {
            _ = try OrganizationCode(bytes: Array(b[8..<17]))
        } catch let IdentifierError.checkDigit(expected, found) {
            throw IdentifierError.organizationCodeCheck(expected: expected, found: found)
        }
        value = String(decoding: b, as: UTF8.self)
    }

    /// The six-digit region code at positions 3–8.
    public var regionCode: String { String(value.dropFirst(2).prefix(6)) }
    /// The embedded organization code (positions 9–17).
    public var organizationCode: String { String(value.dropFirst(8).prefix(9)) }

    /// Masks the organization body: `913101********TP2B` style (keeps 6 + last 4).
    public var masked: String { CitizenID.mask(value) }

    /// Builds a valid code from a 2-character prefix, a region and an 8-character organization body.
    public static func make(prefix: String, region: String, organizationBody: String) -> String {
        let org = organizationBody + String(Unicode.Scalar(OrganizationCode.checkCharacter(Array(organizationBody.utf8))))
        let body = Array((prefix + region + org).utf8)
        var sum = 0
        for i in 0..<17 { sum += index[Int(body[i])] * weights[i] }
        return String(decoding: body, as: UTF8.self) + String(Unicode.Scalar(alphabet[(31 - sum % 31) % 31]))
    }
}

/// 组织机构代码 (GB 11714-1997): eight digits or upper-case letters and a check character
/// (`0`–`9` or `X`), written with or without a hyphen before the check.
public struct OrganizationCode: Hashable, Sendable, CustomStringConvertible {
    public let value: String
    public var description: String { value }
    static let weights = [3, 7, 9, 10, 5, 8, 4, 2]

    public init(_ raw: String) throws {
        var b = IdentifierText.clean(raw)
        if b.count == 10 && b[8] == UInt8(ascii: "-") { b.remove(at: 8) }
        if b.isEmpty { throw IdentifierError.empty }
        try self.init(bytes: b)
    }

    init(bytes b: [UInt8]) throws {
        guard b.count == 9 else { throw IdentifierError.length(b.count, expected: "9") }
        for i in 0..<8 {
            let c = b[i]
            guard IdentifierText.isDigit(c) || (c >= 65 && c <= 90) else {
                throw IdentifierError.character(IdentifierText.character(c), position: i + 1)
            }
        }
        guard IdentifierText.isDigit(b[8]) || b[8] == UInt8(ascii: "X") else {
            throw IdentifierError.character(IdentifierText.character(b[8]), position: 9)
        }
        let expected = OrganizationCode.checkCharacter(b)
        guard expected == b[8] else {
            throw IdentifierError.checkDigit(expected: Character(Unicode.Scalar(expected)), found: Character(Unicode.Scalar(b[8])))
        }
        value = String(decoding: b, as: UTF8.self)
    }

    static func checkCharacter(_ b: [UInt8]) -> UInt8 {
        var sum = 0
        for i in 0..<8 {
            let c = b[i]
            let v = IdentifierText.isDigit(c) ? Int(c) - 48 : Int(c) - 55
            sum += v * weights[i]
        }
        let r = 11 - sum % 11
        switch r {
        case 10: return UInt8(ascii: "X")
        case 11: return UInt8(ascii: "0")
        default: return UInt8(48 + r)
        }
    }
}

/// 注册号: the legacy 15-digit business registration number (GSXT, before 2015), whose last
/// digit is an ISO 7064 MOD 11,10 check.
public struct RegistrationNumber: Hashable, Sendable, CustomStringConvertible {
    public let value: String
    public var description: String { value }

    public init(_ raw: String) throws {
        let b = IdentifierText.clean(raw)
        if b.isEmpty { throw IdentifierError.empty }
        guard b.count == 15 else { throw IdentifierError.length(b.count, expected: "15") }
        for (i, c) in b.enumerated() where !IdentifierText.isDigit(c) {
            throw IdentifierError.character(IdentifierText.character(c), position: i + 1)
        }
        let expected = RegistrationNumber.checkDigit(Array(b[0..<14]))
        guard expected == b[14] else {
            throw IdentifierError.checkDigit(expected: Character(Unicode.Scalar(expected)), found: Character(Unicode.Scalar(b[14])))
        }
        value = String(decoding: b, as: UTF8.self)
    }

    /// ISO 7064 MOD 11,10 (hybrid system) check digit for `digits`.
    static func checkDigit(_ digits: [UInt8]) -> UInt8 {
        var p = 10
        for c in digits {
            var s = (p + Int(c) - 48) % 10
            if s == 0 { s = 10 }
            p = (s * 2) % 11
        }
        return UInt8(48 + (11 - p) % 10)
    }

    /// Builds a valid number from 14 digits.
    public static func make(_ body: String) -> String {
        body + String(Unicode.Scalar(checkDigit(Array(body.utf8))))
    }
}
