import Identifiers
import JSON

/// Turns CloudEvents 1.0 structured-mode JSON into validated ``Event``s.
///
/// Checks the envelope (specversion, id, source, type, subject, time, datacontenttype,
/// extension names), the subject's identifier (GB 11643 / GB 32100, normalizing legacy
/// and full-width forms), and `data` against the type's schema and the configured
/// attributes. Every refusal is an ``EventRejection`` naming the field and the reason.
public struct EventValidator: Sendable {
    public let configuration: Configuration
    /// How far in the future an effective time may be (clock skew), in µs.
    public var futureTolerance: Int64 = 24 * 3600 * 1_000_000

    /// Every accepted event type with what validating its data needs, looked up once per event.
    let types: NameTable<EventType>
    /// The configured departments (code → name), looked up by an event's `source`.
    let departments: NameTable<String>

    /// The object keys an event is expected to carry: the envelope's members, a retraction's
    /// `attributes` and every configured attribute's name (the configuration's own strings),
    /// for ``JSON/JSONParser/parse(_:keys:)``.
    public let keys: JSONKeyTable

    /// A class, so that finding one is a reference, not a copy of its tables.
    final class EventType: Sendable {
        let kind: EntityKind
        let isRetraction: Bool
        let business: BusinessType?
        /// Found by identity first: a data member's name comes from ``keys``, which holds the
        /// configuration's own instances of the attribute names.
        let attributes: RuleTable

        init(kind: EntityKind, isRetraction: Bool, business: BusinessType?, attributes: RuleTable) {
            self.kind = kind; self.isRetraction = isRetraction; self.business = business; self.attributes = attributes
        }
    }

    public init(configuration: Configuration) {
        self.configuration = configuration
        var types: [String: EventType] = [:]
        let names = EntityKind.allCases.flatMap { ["\($0.rawValue).updated", "\($0.rawValue).retracted"] }
            + (configuration.businessTypes ?? [:]).keys
        let attributes = Dictionary(uniqueKeysWithValues: EntityKind.allCases.map { ($0, configuration.ruleTable($0)) })
        for name in names {
            let parts = name.split(separator: ".", maxSplits: 1)
            guard parts.count == 2, let kind = EntityKind(rawValue: String(parts[0])) else { continue }
            types[name] = EventType(kind: kind, isRetraction: parts[1] == "retracted", business: configuration.businessTypes?[name],
                                    attributes: attributes[kind]!)
        }
        self.types = NameTable(types)
        departments = NameTable(configuration.departments)
        keys = JSONKeyTable(EnvelopeField.allCases.map(\.name) + ["attributes"]
            + EntityKind.allCases.flatMap { configuration.entity($0).map { Array($0.attributes.keys) } ?? [] })
    }

    /// The CloudEvents envelope's members that the hub reads or refuses.
    enum EnvelopeField: Int, CaseIterable {
        case specversion, id, source, type, subject, time, datacontenttype, dataschema, data, dataBase64

        /// The member's name in a CloudEvent.
        var name: String {
            switch self {
            case .specversion: "specversion"
            case .id: "id"
            case .source: "source"
            case .type: "type"
            case .subject: "subject"
            case .time: "time"
            case .datacontenttype: "datacontenttype"
            case .dataschema: "dataschema"
            case .data: "data"
            case .dataBase64: "data_base64"
            }
        }
    }

    /// Which envelope member `name` is, nil for an extension. Told by length and first byte,
    /// then one comparison: searching the object for each member's name, and each name among
    /// the members', was a tenth of a bulk load's validation.
    static func envelopeField(_ name: String) -> EnvelopeField? {
        let u = name.utf8
        let field: EnvelopeField
        switch (u.count, u.first ?? 0) {
        case (11, UInt8(ascii: "s")): field = .specversion
        case (2, UInt8(ascii: "i")): field = .id
        case (6, UInt8(ascii: "s")): field = .source
        case (4, UInt8(ascii: "t")): return name == "type" ? .type : name == "time" ? .time : nil
        case (7, UInt8(ascii: "s")): field = .subject
        case (15, UInt8(ascii: "d")): field = .datacontenttype
        case (10, UInt8(ascii: "d")): field = .dataschema
        case (4, UInt8(ascii: "d")): field = .data
        case (11, UInt8(ascii: "d")): field = .dataBase64
        default: return nil
        }
        return name == field.name ? field : nil
    }

    /// An event's envelope members by field, on the stack.
    struct Envelope {
        private var members = InlineArray<10, JSONValue?>(repeating: nil)
        subscript(field: EnvelopeField) -> JSONValue? {
            get { members[field.rawValue] }
            set { members[field.rawValue] = newValue }
        }
    }

    /// Parses and validates one JSON document.
    public func validate(bytes: some Collection<UInt8>, now: Int64) throws(EventRejection) -> Event {
        let json: JSONValue
        do { json = try JSONParser.parse(bytes, keys: keys) } catch {
            throw EventRejection("(body)", .malformedJSON, "not valid JSON: \(error)")
        }
        return try validate(json, now: now)
    }

    /// Validates a parsed CloudEvent.
    public func validate(_ json: JSONValue, now: Int64) throws(EventRejection) -> Event {
        guard case .object(let o) = json else {
            throw EventRejection("(event)", .notAnObject, "a CloudEvent must be a JSON object, got \(json.typeName)")
        }
        // Each member is looked at once: the envelope's kept by field, the others (extensions,
        // checked after the envelope's own members) in document order.
        var envelope = Envelope()
        var others: [(name: String, value: JSONValue)] = []
        for (name, value) in o {
            if let field = EventValidator.envelopeField(name) { envelope[field] = value } else { others.append((name, value)) }
        }
        func string(_ field: EnvelopeField, required: Bool) throws(EventRejection) -> String? {
            let name = field.name
            guard let v = envelope[field] else {
                if required { throw EventRejection(name, .missingField, "is required") }
                return nil
            }
            guard case .string(let s) = v else { throw EventRejection(name, .invalidField, "must be a string, got \(v.typeName)") }
            if s.isEmpty { throw EventRejection(name, .invalidField, "must not be empty") }
            return s
        }
        func string(_ field: EnvelopeField) throws(EventRejection) -> String {
            guard let s = try string(field, required: true) else { throw EventRejection(field.name, .missingField, "is required") }
            return s
        }
        let spec = try string(.specversion)
        guard spec == "1.0" else { throw EventRejection("specversion", .unsupportedSpecVersion, "must be \"1.0\", got \"\(spec)\"") }
        let id = try string(.id)
        guard id.utf8.count <= 256 else { throw EventRejection("id", .invalidField, "is longer than 256 bytes") }
        let published = try string(.source)
        // The configuration's own instances of codes and names are kept, not the parsed
        // copies: every event of a department then shares one string, and the fold's
        // comparisons of sources and attribute names succeed on identity.
        guard let source = departments[published]?.name else {
            throw EventRejection("source", .unknownSource, "\"\(published)\" is not a configured department code")
        }
        let type = try string(.type)
        let contentType = try string(.datacontenttype, required: false)
        if let contentType, !(contentType == "application/json" || contentType.hasPrefix("application/json;")) {
            throw EventRejection("datacontenttype", .invalidField, "must be application/json, got \"\(contentType)\"")
        }
        if envelope[.dataBase64] != nil { throw EventRejection("data_base64", .invalidField, "binary data is not accepted; send JSON in data") }
        _ = try string(.dataschema, required: false)
        var extensions = JSONObject()
        for (name, value) in others {
            guard name.utf8.count <= 20, name.utf8.allSatisfy({ ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) }) else {
                throw EventRejection(name, .invalidField, "is not a valid CloudEvents attribute name (lower-case letters and digits, at most 20)")
            }
            if name == "position" || name == "ingesttime" {
                throw EventRejection(name, .invalidField, "is set by the hub, not by publishers")
            }
            switch value {
            case .string, .number, .bool: extensions[name] = value
            default: throw EventRejection(name, .invalidField, "extension attributes must be strings, numbers or booleans")
            }
        }
        let subjectText = try string(.subject)
        let subject = try parseSubject(subjectText, field: "subject", source: source)
        let timeText = try string(.time)
        guard let time = Timestamp.parse(timeText) else {
            throw EventRejection("time", .invalidTime, "must be an RFC 3339 timestamp with a zone, e.g. 2026-11-20T08:00:00+08:00; got \"\(timeText)\"")
        }
        guard time <= now + futureTolerance else {
            throw EventRejection("time", .futureTime, "is more than 24 hours in the future")
        }
        guard let data = envelope[.data] else { throw EventRejection("data", .missingField, "is required") }
        let body = try validateData(type: type, subject: subject, data: data)
        return Event(id: id, source: source, type: type, subject: subject, time: time, timeText: timeText,
                     dataContentType: contentType, data: data, extensions: extensions, body: body)
    }

    /// Parses an event's subject: `person/<id>`, `enterprise/<uscc>` (normalizing the
    /// identifier), or a department's own record `person/local/<key>` (stored as the
    /// crosswalk of `source` and key). Hub identifiers (`YD…`) are the hub's to assign.
    public func parseSubject(_ text: String, field: String, source: String) throws(EventRejection) -> Subject {
        if let person = Subject(normalizedPerson: text) { return person }
        for kind in EntityKind.allCases {
            let prefix = kind.rawValue + "/"
            guard text.hasPrefix(prefix) else { continue }
            let rest = text.dropFirst(prefix.count)
            if rest.hasPrefix("local/") {
                let key = rest.dropFirst(6)
                try Subject.checkLocalKey(key, field: field)
                return .local(kind: kind, source: source, key: String(key))
            }
            if Subject.hubNumber(String(rest)) != nil {
                throw EventRejection(field, .invalidSubject, "hub identifiers are assigned by the hub; publish a record without a national identifier as \(kind.rawValue)/local/<your record key>")
            }
        }
        return try parseQualified(text, field: field)
    }

    /// Parses `person/<id>` or `enterprise/<uscc>`, normalizing the identifier.
    public func parseSubject(_ text: String, field: String) throws(EventRejection) -> Subject {
        if let person = Subject(normalizedPerson: text) { return person }
        return try parseQualified(text, field: field)
    }

    /// The full parse of `<kind>/<identifier>`, once the in-place reading has declined it.
    private func parseQualified(_ text: String, field: String) throws(EventRejection) -> Subject {
        guard text.utf8.contains(UInt8(ascii: "/")) else {
            throw EventRejection(field, .invalidSubject, "must be person/<公民身份号码> or enterprise/<统一社会信用代码>, got \"\(text)\"")
        }
        return try Subject(reference: text, field: field)
    }

    /// Normalizes an identifier of `kind`.
    public func parseIdentifier(_ raw: String, kind: EntityKind, field: String) throws(EventRejection) -> Subject {
        try Subject(identifier: raw, kind: kind, field: field)
    }
}

extension Subject {
    private static let personPrefix = Array("person/".utf8)

    /// `person/` and a 公民身份号码 already in its normalized form (what departments' systems
    /// send), read in place: no string is made, and nothing is copied. Nil for any other
    /// text, which ``init(reference:field:)`` parses in full: that gives the same subject for
    /// what this accepts, and names the broken rule for what neither does.
    public init?(normalizedPerson text: String) {
        let bytes = text.utf8.span
        let prefix = Self.personPrefix
        guard bytes.count == prefix.count + 18 else { return nil }
        for i in 0..<prefix.count where bytes[i] != prefix[i] { return nil }
        let id = bytes.extracting(prefix.count...)
        guard CitizenID.isNormalized(id) else { return nil }
        self.init(kind: .person, id: id)
    }

    /// Normalizes an identifier of `kind` (GB 11643 / GB 32100).
    /// - Throws: ``EventRejection`` on `field` with the failed rule.
    public init(identifier raw: String, kind: EntityKind, field: String) throws(EventRejection) {
        // A hub identifier (`YD` and ten digits) names a golden record without a national one.
        if raw.utf8.first == UInt8(ascii: "Y") || raw.utf8.first == UInt8(ascii: "y"), Subject.hubNumber(raw.uppercased()) != nil {
            self.init(kind: kind, id: raw.uppercased())
            return
        }
        do {
            switch kind {
            case .person: self.init(kind: kind, id: try CitizenID(raw).value)
            case .enterprise: self.init(kind: kind, id: try CreditCode(raw).value)
            }
        } catch {
            throw EventRejection(field, .invalidIdentifier, "\"\(raw)\" is not a valid \(kind.traits.identifierName): it \(error)")
        }
    }

    /// What a person types for a subject: `person/<ID>`, `enterprise/<USCC>`, or a bare
    /// identifier (a valid 公民身份号码 first, else a 统一社会信用代码).
    public init(reference text: String, field: String = "subject") throws(EventRejection) {
        if let slash = text.utf8.firstIndex(of: UInt8(ascii: "/")) {
            guard let kind = EntityKind(rawValue: String(text[..<slash])) else {
                throw EventRejection(field, .invalidSubject, "unknown entity kind \"\(text[..<slash])\" (person or enterprise)")
            }
            try self.init(identifier: String(text[text.index(after: slash)...]), kind: kind, field: field)
        // A bare identifier: a valid 公民身份号码 first; when it is not one, the 统一社会信用代码
        // branch below reports the error.
        } else if let person = try? Subject(identifier: text, kind: .person, field: field) {
            self = person
        } else {
            try self.init(identifier: text, kind: .enterprise, field: field)
        }
    }
}

extension EventValidator {

    func validateData(type: String, subject: Subject, data: JSONValue) throws(EventRejection) -> EventBody {
        guard let eventType = types[type]?.value else {
            let known = (["person.updated", "person.retracted", "enterprise.updated", "enterprise.retracted"]
                + (configuration.businessTypes ?? [:]).keys.sorted()).joined(separator: ", ")
            throw EventRejection("type", .unknownType, "\"\(type)\" is not one of \(known)")
        }
        guard eventType.kind == subject.kind else {
            throw EventRejection("subject", .subjectKindMismatch, "is a \(subject.kind.rawValue) but type \(type) is about a \(eventType.kind.rawValue)")
        }
        guard case .object(let fields) = data else {
            throw EventRejection("data", .invalidData, "must be a JSON object, got \(data.typeName)")
        }
        let attributes = eventType.attributes
        let business = eventType.business
        if eventType.isRetraction {
            guard fields.count == 1, case .array(let list)? = fields["attributes"] else {
                throw EventRejection("data.attributes", .invalidData, "a retraction carries exactly {\"attributes\": [names]}")
            }
            guard !list.isEmpty else { throw EventRejection("data.attributes", .invalidData, "must name at least one attribute") }
            var names: [String] = []
            for (i, item) in list.enumerated() {
                guard case .string(let published) = item else {
                    throw EventRejection("data.attributes[\(i)]", .invalidData, "must be a string, got \(item.typeName)")
                }
                guard let name = attributes[published]?.name else {
                    throw EventRejection("data.attributes[\(i)]", .unknownAttribute, "\"\(published)\" is not a \(subject.kind.rawValue) attribute")
                }
                guard !names.contains(name) else { throw EventRejection("data.attributes[\(i)]", .invalidData, "\"\(name)\" is listed twice") }
                names.append(name)
            }
            return .retract(names)
        }
        var assertions: [Assertion] = []
        assertions.reserveCapacity(fields.count)
        // A local record may carry the national identifier its department holds: then its
        // golden record is that identifier's. Checked like a subject, not an attribute.
        var identified = false
        if let business {
            for (name, value) in business.set.sorted(by: { $0.key < $1.key }) {
                guard let rule = attributes.rule(name) else { continue }
                do { assertions.append(Assertion(attribute: name, value: try Normalizer.normalize(.string(value), rule: rule))) } catch {
                    throw EventRejection("type", .invalidValue, "maps \(name) to \"\(value)\", which \(error.reason)")
                }
            }
        }
        for (published, value) in fields {
            if subject.isLocal, published == subject.kind.traits.dataIdentifier {
                guard case .string(let raw) = value else {
                    throw EventRejection("data.\(published)", .invalidIdentifier, "must be a string, got \(value.typeName)")
                }
                _ = try Subject(identifier: raw, kind: subject.kind, field: "data.\(published)")
                if Subject.hubNumber(raw.uppercased()) != nil {
                    throw EventRejection("data.\(published)", .invalidIdentifier, "\"\(raw)\" is a hub identifier, not a \(subject.kind.traits.identifierName)")
                }
                identified = true
                continue
            }
            guard let (name, rule) = attributes[published] else {
                throw EventRejection("data.\(published)", .unknownAttribute, "\"\(published)\" is not a \(subject.kind.rawValue) attribute")
            }
            if let business, !business.attributes.contains(name) {
                throw EventRejection("data.\(name)", .unknownAttribute, "\(type) carries only \(business.attributes.joined(separator: ", "))")
            }
            if value.isNull {
                throw EventRejection("data.\(name)", .invalidValue, "is null; publish \(subject.kind.rawValue).retracted to withdraw a value")
            }
            do { assertions.append(Assertion(attribute: name, value: try Normalizer.normalize(value, rule: rule))) } catch {
                throw EventRejection("data.\(name)", .invalidValue, error.reason)
            }
        }
        guard !assertions.isEmpty || identified else { throw EventRejection("data", .invalidData, "must assert at least one attribute") }
        return .assert(assertions)
    }
}
