import Testing
@testable import Identifiers

@Suite struct CitizenIDTests {
    @Test(arguments: ["11010519491231002X", "360426199101010071"])
    func acceptsPublishedValidNumbers(_ id: String) throws {
        #expect(try CitizenID(id).value == id)
    }

    @Test func normalizesLowercaseXAndFullWidthAndSpaces() throws {
        #expect(try CitizenID("44011320141005001x").value == "44011320141005001X")
        #expect(try CitizenID("  １１０１０５１９４９１２３１００２ｘ　").value == "11010519491231002X")
    }

    @Test func convertsLegacy15DigitNumbers() throws {
        #expect(try CitizenID("411702700422319").value == "41170219700422319X")
        let id = try CitizenID("411702700422319")
        #expect(id.birthDate == "1970-04-22")
        #expect(id.regionCode == "411702")
    }

    @Test func rejectsWrongCheckCharacter() {
        #expect(throws: IdentifierError.checkDigit(expected: "3", found: "X")) { try CitizenID("36042619910102009X") }
    }

    @Test func rejectsImpossibleBirthDates() throws {
        #expect(throws: IdentifierError.birthDate("19911301")) { try CitizenID("360426199113010079") }
        #expect(throws: IdentifierError.birthDate("19010229")) { try CitizenID(CitizenID.make(region: "110105", birth: "19010229", sequence: 1)) }
        #expect(try CitizenID(CitizenID.make(region: "110105", birth: "20000229", sequence: 1)).birthDate == "2000-02-29")
    }

    @Test func rejectsLengthCharactersAndRegion() {
        #expect(throws: IdentifierError.length(17, expected: "18 (or legacy 15)")) { try CitizenID("11010519491231002") }
        #expect(throws: IdentifierError.character("A", position: 3)) { try CitizenID("11A10519491231002X") }
        #expect(throws: IdentifierError.region("990105")) { try CitizenID(CitizenID.make(region: "990105", birth: "19491231", sequence: 2)) }
        #expect(throws: IdentifierError.empty) { try CitizenID("   ") }
        #expect(throws: IdentifierError.self) { try CitizenID("张三") }
    }

    @Test func everySingleDigitChangeIsDetected() throws {
        let id = Array("11010519491231002X".utf8)
        for i in 0..<17 {
            var copy = id
            copy[i] = copy[i] == 57 ? 48 : copy[i] + 1
            #expect(throws: IdentifierError.self) { try CitizenID(String(decoding: copy, as: UTF8.self)) }
        }
    }

    @Test func masksTheMiddle() throws {
        #expect(try CitizenID("11010519491231002X").masked == "110105********002X")
    }
}

@Suite struct CreditCodeTests {
    @Test(arguments: ["91310115MA1K3BTP2B", "9144030071526726XG"])
    func acceptsPublishedValidCodes(_ code: String) throws {
        #expect(try CreditCode(code).value == code)
    }

    @Test func normalizesCaseAndWidth() throws {
        #expect(try CreditCode(" 91310115ma1k3btp2b ").value == "91310115MA1K3BTP2B")
        #expect(try CreditCode("９１３１０１１５ＭＡ１Ｋ３ＢＴＰ２Ｂ").value == "91310115MA1K3BTP2B")
    }

    @Test func rejectsWrongCheckCharacter() {
        #expect(throws: IdentifierError.checkDigit(expected: "L", found: "N")) { try CreditCode("91110000600037341N") }
    }

    @Test func rejectsCharactersOutsideTheSet() {
        #expect(throws: IdentifierError.character("I", position: 14)) { try CreditCode("9111000060003IOZSV") }
    }

    @Test func checksTheEmbeddedOrganizationCode() {
        // Valid MOD 31 check but organization code 71526726 with check 0 instead of X.
        let body = Array("9144030071526726".utf8) + Array("0".utf8)
        var sum = 0
        for i in 0..<17 { sum += CreditCode.index[Int(body[i])] * CreditCode.weights[i] }
        let code = String(decoding: body, as: UTF8.self) + String(Unicode.Scalar(CreditCode.alphabet[(31 - sum % 31) % 31]))
        #expect(throws: IdentifierError.organizationCodeCheck(expected: "X", found: "0")) { try CreditCode(code) }
    }

    @Test func generatedCodesValidate() throws {
        let code = CreditCode.make(prefix: "91", region: "330203", organizationBody: "MA2H7K3Q")
        let parsed = try CreditCode(code)
        #expect(parsed.regionCode == "330203")
        #expect(parsed.organizationCode.hasPrefix("MA2H7K3Q"))
    }
}

@Suite struct OrganizationAndRegistrationTests {
    @Test func organizationCodeWithAndWithoutHyphen() throws {
        #expect(try OrganizationCode("71526726-X").value == "71526726X")
        #expect(try OrganizationCode("MA1K3BTP2").value == "MA1K3BTP2")
        #expect(throws: IdentifierError.checkDigit(expected: "2", found: "3")) { try OrganizationCode("MA1K3BTP3") }
    }

    @Test func registrationNumberMod1110() throws {
        // ISO 7064 MOD 11,10: a valid number keeps validating and any single-digit change fails.
        let valid = RegistrationNumber.make("31011500004421")
        #expect(try RegistrationNumber(valid).value == valid)
        var digits = Array(valid.utf8)
        for i in 0..<15 {
            let original = digits[i]
            digits[i] = original == 57 ? 48 : original + 1
            #expect(throws: IdentifierError.self) { try RegistrationNumber(String(decoding: digits, as: UTF8.self)) }
            digits[i] = original
        }
        #expect(throws: IdentifierError.length(14, expected: "15")) { try RegistrationNumber("31011500004421") }
    }
}
