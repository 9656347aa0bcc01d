import Foundation
import JSON
import Testing
@testable import YidangModel

let now = Timestamp.parse("2026-11-23T00:00:00Z") ?? 0

func event(_ overrides: [String: JSONValue?] = [:], data: JSONValue? = nil) -> JSONValue {
    var o: JSONObject = ["specversion": "1.0", "id": "e1", "source": "gongan", "type": "person.updated",
                         "subject": "person/11010519491231002X", "time": "2026-11-20T08:00:00+08:00",
                         "data": data ?? ["name": "张三"]]
    for (k, v) in overrides { o[k] = v }
    return .object(o)
}

@Suite struct ValidatorTests {
    let validator = EventValidator(configuration: .default)

    @Test func acceptsAndNormalizesAValidEvent() throws {
        let e = try validator.validate(event(["subject": "person/110105491231002"], data: ["name": " 张三 ", "regionCode": "１１０１０５", "phone": "+86 138-0013-8000"]), now: now)
        #expect(e.subject == Subject(kind: .person, id: "11010519491231002X"))
        #expect(e.time == Timestamp.parse("2026-11-20T00:00:00Z"))
        #expect(e.body == .assert([Assertion(attribute: "name", value: "张三"), Assertion(attribute: "regionCode", value: "110105"),
                                   Assertion(attribute: "phone", value: "13800138000")]))
    }

    @Test(arguments: [
        (event(["specversion": "0.3"]), "specversion", EventRejection.Code.unsupportedSpecVersion),
        (event(["id": nil]), "id", .missingField),
        (event(["id": ""]), "id", .invalidField),
        (event(["source": "waixing"]), "source", .unknownSource),
        (event(["source": "steward"]), "source", .unknownSource),
        (event(["type": "person.moved"]), "type", .unknownType),
        (event(["type": "enterprise.updated"]), "subject", .subjectKindMismatch),
        (event(["subject": "person/36042619910102009X"]), "subject", .invalidIdentifier),
        (event(["subject": "car/123"]), "subject", .invalidSubject),
        (event(["time": nil]), "time", .missingField),
        (event(["time": "2026-11-20 08:00"]), "time", .invalidTime),
        (event(["time": "2026-02-30T08:00:00Z"]), "time", .invalidTime),
        (event(["time": "2027-11-20T08:00:00Z"]), "time", .futureTime),
        (event(["data": "text"]), "data", .invalidData),
        (event(["data": nil]), "data", .missingField),
        (event(["datacontenttype": "text/xml"]), "datacontenttype", .invalidField),
        (event(["Bad_Ext": "x"]), "Bad_Ext", .invalidField),
        (event(["specversion": nil]), "specversion", .missingField),
        (event(["type": 7]), "type", .invalidField),
        (event(["data_base64": "AAAA"]), "data_base64", .invalidField),
        (event(["dataschema": 1]), "dataschema", .invalidField),
        (event(["position": 3]), "position", .invalidField),
        (event(data: ["nickname": "x"]), "data.nickname", .unknownAttribute),
        (event(data: ["birthDate": "1949-02-30"]), "data.birthDate", .invalidValue),
        (event(data: ["gender": "M"]), "data.gender", .invalidValue),
        (event(data: ["name": .null]), "data.name", .invalidValue),
        (event(data: ["name": 12]), "data.name", .invalidValue),
        (event(data: [:]), "data", .invalidData),
        (event(["type": "person.retracted"], data: ["attributes": ["nickname"]]), "data.attributes[0]", .unknownAttribute),
        (event(["type": "person.retracted"], data: ["attributes": []]), "data.attributes", .invalidData),
    ])
    func rejectsEachBadFieldWithItsOwnReason(_ json: JSONValue, _ field: String, _ code: EventRejection.Code) {
        do {
            _ = try validator.validate(json, now: now)
            Issue.record("expected a rejection of \(field)")
        } catch {
            #expect(error.field == field)
            #expect(error.code == code)
            #expect(!error.reason.isEmpty)
        }
    }

    /// Names one letter off an envelope member's, or of its length and first letter, are
    /// extensions; the members themselves are not.
    @Test func envelopeMembersAreToldFromLookalikeExtensions() throws {
        let lookalikes: [String: JSONValue] = ["subjecx": "a", "tipe": "b", "tim": "c", "sourcex": "d", "datax": 1, "ids": true,
                                               "specversio": "e", "dataschemb": "f", "datacontenttypf": "g"]
        var o = event()
        if case .object(var members) = o { for (k, v) in lookalikes { members[k] = v }; o = .object(members) }
        let e = try validator.validate(o, now: now)
        #expect(e.extensions.count == lookalikes.count)
        for (k, v) in lookalikes { #expect(e.extensions[k] == v) }
        for name in ["specversion", "id", "source", "type", "subject", "time", "datacontenttype", "dataschema", "data", "data_base64"] {
            #expect(EventValidator.envelopeField(name)?.name == name)
        }
    }

    @Test func malformedJSONAndNonObjects() {
        #expect(throws: EventRejection("(body)", .malformedJSON, "not valid JSON: expected a string key at byte 1")) {
            try validator.validate(bytes: Array("{,}".utf8), now: now)
        }
        #expect(throws: EventRejection.self) { try validator.validate(bytes: [0x22, 0xFF, 0x22], now: now) }
        #expect(throws: EventRejection("(event)", .notAnObject, "a CloudEvent must be a JSON object, got array")) {
            try validator.validate(.array([]), now: now)
        }
    }

    @Test func businessTypesMapOntoAttributes() throws {
        let e = try validator.validate(event(["type": "person.deceased", "source": "weijian"], data: ["deathDate": "2026/11/01"]), now: now)
        #expect(e.body == .assert([Assertion(attribute: "status", value: "deceased"), Assertion(attribute: "deathDate", value: "2026-11-01")]))
    }

    @Test func typesAndAttributesAreFoundByTheirBytesOrTheirCanonicalSpelling() throws {
        // Every configured type and attribute is found, with the configuration's own name.
        for (kind, subject) in [(EntityKind.person, "person/11010519491231002X"), (.enterprise, "enterprise/91310115MA1K3BTP2B")] {
            for name in try #require(validator.configuration.entity(kind)).attributes.keys.sorted() {
                let rejection = #expect(throws: EventRejection.self) {
                    try validator.validate(event(["type": .string("\(kind.rawValue).updated"), "subject": .string(subject)],
                                                 data: [name: ["not": "a value"]]), now: now)
                }
                #expect(rejection?.field == "data.\(name)" && rejection?.code == .invalidValue, "\(name): \(String(describing: rejection))")
            }
        }
        // A name spelled with a combining accent is the configured precomposed one.
        var configuration = Configuration.default
        configuration.entities["person"]?.attributes["café"] = AttributeRule(type: .text, sensitivity: .L2, precedence: [])
        configuration.businessTypes = ["person.déménagé": BusinessType(entity: .person, set: [:], attributes: ["café"])]
        let accented = EventValidator(configuration: configuration)
        for (type, name) in [("person.déménagé", "café"), ("person.de\u{301}me\u{301}nage\u{301}", "cafe\u{301}"), ("person.updated", "cafe\u{301}")] {
            let e = try accented.validate(event(["type": .string(type)], data: [name: "x"]), now: now)
            #expect(e.body == .assert([Assertion(attribute: "café", value: "x")]), "\(type) \(name)")
        }
        let rejection = #expect(throws: EventRejection.self) { try accented.validate(event(data: ["cafe": "x"]), now: now) }
        #expect(rejection?.field == "data.cafe" && rejection?.code == .unknownAttribute)
    }

    @Test func storedFormRoundTrips() throws {
        var e = try validator.validate(event(["traceparent": "00-abc"], data: ["name": "张三", "employer": "91310115MA1K3BTP2B"]), now: now)
        e.position = 42
        e.ingestTime = now
        #expect(try Event(encoded: e.encoded()) == e)
        #expect(throws: (any Error).self) { try Event(encoded: Array(e.encoded().prefix(20))) }
    }
}

@Suite struct ConfigurationTests {
    @Test func builtInDefaultEqualsTheShippedFile() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("config/yidang.default.yaml")
        let text = try String(contentsOf: url, encoding: .utf8)
        #expect(text.trimmingCharacters(in: .whitespacesAndNewlines) == DefaultConfiguration.yaml.trimmingCharacters(in: .whitespacesAndNewlines))
        let c = try Configuration(yaml: text)
        #expect(c.rule(.person, "residenceAddress")?.precedence == ["zhujian", "gongan"])
        #expect(c.rule(.person, "phone")?.flagsConflicts == false)
        #expect(c.rule(.person, "name")?.flagsConflicts == true)
        #expect(c.rule(.enterprise, "taxStatus")?.precedence == ["shuiwu"])
    }

    /// The blocking rules name attributes with the strings events carry, validated or read
    /// back from the log, so the writer finds a record's blocking values by identity.
    @Test func blockingRulesShareTheNamesEventsCarry() throws {
        let c = Configuration.default
        let rule = try #require(c.matching(.person)?.block.first { $0.contains("residenceAddress") })
        let name = try #require(rule.first { $0 == "residenceAddress" })
        var e = try EventValidator(configuration: c).validate(event(["source": "zhujian"], data: ["residenceAddress": "宁波市四明中路596号"]), now: now)
        guard case .assert(let validated) = e.body else { Issue.record("not an assertion"); return }
        #expect(validated.first?.attribute.sharesStorage(with: name) == true)
        e.position = 1
        e.ingestTime = now
        let read = try Event(encoded: e.encoded(), names: c.names())
        guard case .assert(let stored) = read.body else { Issue.record("not an assertion"); return }
        #expect(stored.first?.attribute.sharesStorage(with: name) == true)
    }

    @Test func badConfigurationsNameTheEntry() {
        let bad = DefaultConfiguration.yaml.replacingOccurrences(of: "precedence: [zhujian, gongan]", with: "precedence: [zhujian, mars]")
        #expect(throws: ConfigurationError.self) { try Configuration(yaml: bad) }
        do { _ = try Configuration(yaml: bad) } catch { #expect("\(error)".contains("residenceAddress.precedence: unknown department 'mars'")) }
        #expect(throws: ConfigurationError.self) { try Configuration(yaml: "version: 2") }
    }
}

@Suite struct NormalizerTests {
    @Test func widthAndWhitespaceFold() {
        #expect(Normalizer.foldWidth("  张三　") == "张三")
        #expect(Normalizer.foldWidth("建国路８８号  A座") == "建国路88号 A座")
        #expect(Normalizer.foldWidth("宁波市\u{2003}海曙区\u{A0}") == "宁波市 海曙区")
        let clean = "宁波天一贸易有限公司"
        #expect(Normalizer.foldWidth(clean) == clean)
    }
    /// The byte test that lets a value skip folding misses no scalar that folding changes:
    /// every such scalar's first UTF-8 byte passes it, and a value of one such scalar
    /// between Han characters is folded.
    @Test func theByteTestMissesNoScalarThatFolds() {
        for v in UInt32(0)...0x10FFFF where Normalizer.needsFolding(v) {
            guard let scalar = Unicode.Scalar(v) else { continue }
            let lead = Array(String(Character(scalar)).utf8)[0]
            #expect(Normalizer.mayStartFolding(lead), "U+\(String(v, radix: 16))")
            #expect(Normalizer.foldWidth("张\(Character(scalar))三") != "张\(Character(scalar))三" || v == 0x20, "U+\(String(v, radix: 16))")
        }
    }
    /// The fast whitespace test is Unicode's own White_Space property, scalar for scalar.
    @Test func whiteSpaceTableIsUnicodes() {
        for v in UInt32(0)...0x10FFFF {
            guard let scalar = Unicode.Scalar(v) else { continue }
            #expect(Normalizer.isWhiteSpace(v) == scalar.properties.isWhitespace, "U+\(String(v, radix: 16))")
        }
    }
    @Test func datesAndTimestamps() {
        #expect(Normalizer.normalizeDate("20000229") == "2000-02-29")
        #expect(Normalizer.normalizeDate("1900-02-29") == nil)
        #expect(Normalizer.normalizeDate("2000.02.29") == "2000-02-29")
        #expect(Normalizer.normalizeDate("2000-02-29") == "2000-02-29")
        #expect(Normalizer.normalizeDate("2000-2-29") == nil)
    }
    @Test func phonesAndRegionCodes() throws {
        let phone = AttributeRule(type: .phone, sensitivity: .L3, precedence: [])
        let region = AttributeRule(type: .regionCode, sensitivity: .L1, precedence: [])
        #expect(try Normalizer.normalize(.string("0086 138 0013 8000"), rule: phone) == "13800138000")
        #expect(try Normalizer.normalize(.string("(0574) 8765-4321"), rule: phone) == "057487654321")
        #expect(try Normalizer.normalize(.string("13800138000"), rule: phone) == "13800138000")
        for bad in ["138-00a3-8000", "123456", "+86 1234567890123456", "１３８００１３８０００x"] {
            #expect(throws: ValueError.self, "\(bad)") { try Normalizer.normalize(.string(bad), rule: phone) }
        }
        #expect(try Normalizer.normalize(.string("330203"), rule: region) == "330203")
        for bad in ["033020", "33020", "33020a", "3302033"] {
            #expect(throws: ValueError.self, "\(bad)") { try Normalizer.normalize(.string(bad), rule: region) }
        }
        #expect(Timestamp.parse("2026-11-20T08:00:00+08:00") == Timestamp.parse("2026-11-20T00:00:00Z"))
        #expect(Timestamp.parse("2026-11-20T00:00:00.5Z") == (Timestamp.parse("2026-11-20T00:00:00Z") ?? 0) + 500_000)
        #expect(Timestamp.format(Timestamp.parse("1969-12-31T23:59:59.25Z") ?? 0) == "1969-12-31T23:59:59.250000Z")
    }
}

@Suite struct SchemaFileTests {
    static let schemas = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Schemas")

    static func load(_ name: String) throws -> JSONValue {
        try JSONParser.parse(Array(try Data(contentsOf: schemas.appendingPathComponent(name))))
    }

    /// Each event type has a data schema whose attributes are exactly the configuration's
    /// (and, for updates, the national identifier a local record may carry).
    @Test func dataSchemasMatchTheConfiguration() throws {
        let config = Configuration.default
        for kind in EntityKind.allCases {
            let attributes = Set(config.entity(kind)?.attributes.keys.map { $0 } ?? [])
            let updated = try Self.load("\(kind.rawValue).updated.schema.json")
            #expect(Set(updated["properties"]?.objectValue?.keys ?? []) == attributes.union([kind.traits.dataIdentifier]))
            let retracted = try Self.load("\(kind.rawValue).retracted.schema.json")
            let names = retracted["properties"]?["attributes"]?["items"]?["enum"]?.arrayValue?.compactMap(\.stringValue) ?? []
            #expect(Set(names) == attributes)
        }
        for (type, business) in config.businessTypes ?? [:] {
            let schema = try Self.load("\(type).schema.json")
            #expect(Set(schema["properties"]?.objectValue?.keys ?? []) == Set(business.attributes))
        }
        let envelope = try Self.load("cloudevent.schema.json")
        let types = Set(envelope["properties"]?["type"]?["enum"]?.arrayValue?.compactMap(\.stringValue) ?? [])
        #expect(types == Set(["person.updated", "person.retracted", "enterprise.updated", "enterprise.retracted"] + (config.businessTypes ?? [:]).keys))
        let sources = Set(envelope["properties"]?["source"]?["enum"]?.arrayValue?.compactMap(\.stringValue) ?? [])
        #expect(sources == Set(config.departments.keys))
    }
}
