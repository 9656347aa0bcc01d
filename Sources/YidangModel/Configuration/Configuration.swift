import JSON
import Foundation
import Yams

/// The kind of entity a golden record describes.
public enum EntityKind: String, Sendable, Hashable, CaseIterable, Codable {
    case person, enterprise
}

/// How sensitive an attribute is, from L1 (public) to L4 (highly sensitive).
public enum Sensitivity: String, Sendable, Hashable, Codable, Comparable {
    case L1, L2, L3, L4
    public var level: Int { Int(rawValue.dropFirst()) ?? 4 }
    public static func < (a: Sensitivity, b: Sensitivity) -> Bool { a.level < b.level }
}

/// The value type of an attribute; it decides validation and normalization.
public enum AttributeType: String, Sendable, Hashable, Codable {
    /// Free text: trimmed, full-width ASCII to half-width, inner whitespace collapsed.
    case text
    /// One of a fixed list of codes (`values`).
    case code
    /// A calendar date, stored as `YYYY-MM-DD` (accepts `YYYY/MM/DD`, `YYYYMMDD`).
    case date
    /// A phone number: digits only, a leading `+86`/`0086` dropped.
    case phone
    /// A 公民身份号码, normalized to 18 characters.
    case citizenId
    /// A 统一社会信用代码.
    case creditCode
    /// A six-digit GB/T 2260 region code.
    case regionCode
    case integer
    case decimal
}

/// The survivorship rule and metadata of one attribute.
public struct AttributeRule: Sendable, Hashable, Codable {
    public var type: AttributeType
    public var values: [String]?
    public var sensitivity: Sensitivity
    /// Ordered source precedence (一数一源). Empty means recency alone.
    public var precedence: [String]
    /// Whether disagreement opens a conflict. Defaults to true when a precedence is set.
    public var conflicts: Bool?
    /// For identifier-valued attributes: the entity kind the value points at.
    public var link: EntityKind?

    public var flagsConflicts: Bool { conflicts ?? !precedence.isEmpty }

    public init(type: AttributeType, values: [String]? = nil, sensitivity: Sensitivity, precedence: [String],
                conflicts: Bool? = nil, link: EntityKind? = nil) {
        self.type = type; self.values = values; self.sensitivity = sensitivity
        self.precedence = precedence; self.conflicts = conflicts; self.link = link
    }
}

public struct EntityConfiguration: Sendable, Codable {
    public var identifier: AttributeType
    public var attributes: [String: AttributeRule]
}

/// A business event type (e.g. `person.deceased`) mapped onto attribute assertions.
public struct BusinessType: Sendable, Codable {
    public var entity: EntityKind
    /// Attributes set to fixed values by this type.
    public var set: [String: String]
    /// Attributes this type may carry in `data`.
    public var attributes: [String]
}

/// The hub's rules: departments, entity kinds, attributes and survivorship.
/// Loaded from YAML (schema `Schemas/configuration.schema.json`), or ``Configuration/default``.
public struct Configuration: Sendable, Codable {
    public var version: Int
    /// Department code → display name.
    public var departments: [String: String]
    public var entities: [String: EntityConfiguration]
    public var businessTypes: [String: BusinessType]?
    /// Limits on verification (``VerificationSettings``); defaults when absent.
    public var verification: VerificationSettings?
    /// Identity resolution per entity kind (``MatchingSettings``): how records without a
    /// national identifier are compared, blocked and linked.
    public var matching: [String: MatchingSettings]?

    /// The matching settings of `kind`, if configured.
    public func matching(_ kind: EntityKind) -> MatchingSettings? { matching?[kind.rawValue] }

    /// The verification limits in force.
    public var verificationLimits: VerificationSettings { verification ?? VerificationSettings() }

    /// The reserved source of steward decisions.
    public static let stewardSource = "steward"
    /// The reserved source of the matcher's identity decisions.
    public static let matcherSource = "matcher"

    public func entity(_ kind: EntityKind) -> EntityConfiguration? { entities[kind.rawValue] }
    public func rule(_ kind: EntityKind, _ attribute: String) -> AttributeRule? { entities[kind.rawValue]?.attributes[attribute] }

    /// The codes and names stored events repeat (departments, event types, attribute
    /// names), for decoding them as shared strings (``Event/init(encoded:payload:names:)``).
    public func names() -> InternTable {
        var all = Array(departments.keys) + [Configuration.stewardSource, Configuration.matcherSource, "steward.resolved"]
            + IdentityDecision.eventTypes.sorted()
        for (kind, entity) in entities {
            all += ["\(kind).updated", "\(kind).retracted"]
            all += entity.attributes.keys
        }
        all += businessTypes?.keys ?? [:].keys
        return InternTable(all)
    }

    /// The built-in defaults (`config/yidang.default.yaml`).
    public static let `default`: Configuration = {
        do { return try Configuration(yaml: DefaultConfiguration.yaml) } catch {
            fatalError("built-in configuration is invalid: \(error)")
        }
    }()

    /// Parses and checks a YAML configuration.
    /// - Throws: ``ConfigurationError`` naming the offending entry.
    public init(yaml: String) throws {
        let decoded: Configuration
        do { decoded = try YAMLDecoder().decode(Configuration.self, from: yaml) } catch {
            throw ConfigurationError(message: "cannot read configuration: \(error)")
        }
        self = decoded
        try validate()
        shareAttributeNames()
    }

    /// Makes the matching settings name attributes with the entity's own strings, the ones
    /// events carry (``EventValidator``, ``names()``): the writer's lookups of a record's
    /// blocking values then find them by identity instead of comparing names.
    mutating func shareAttributeNames() {
        guard var all = matching else { return }
        for (kindName, var settings) in all {
            guard let attributes = entities[kindName]?.attributes else { continue }
            settings.block = settings.block.map { rule in rule.map { a in attributes.index(forKey: a).map { attributes.keys[$0] } ?? a } }
            all[kindName] = settings
        }
        matching = all
    }

    public static func load(path: String?) throws -> Configuration {
        guard let path else { return .default }
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw ConfigurationError(message: "cannot read configuration file \(path): \(error.localizedDescription)")
        }
        return try Configuration(yaml: text)
    }

    func validate() throws {
        guard version == 1 else { throw ConfigurationError(message: "version: unsupported \(version), expected 1") }
        if departments[Configuration.stewardSource] != nil {
            throw ConfigurationError(message: "departments.steward: 'steward' is reserved for steward decisions")
        }
        if departments[Configuration.matcherSource] != nil {
            throw ConfigurationError(message: "departments.matcher: 'matcher' is reserved for identity decisions")
        }
        for code in departments.keys where code.isEmpty || !code.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-") }) {
            throw ConfigurationError(message: "departments.\(code): codes are lower-case ASCII letters, digits and '-'")
        }
        for kind in EntityKind.allCases where entities[kind.rawValue] == nil {
            throw ConfigurationError(message: "entities.\(kind.rawValue): missing")
        }
        for (kind, entity) in entities {
            guard EntityKind(rawValue: kind) != nil else { throw ConfigurationError(message: "entities.\(kind): unknown entity kind") }
            for (name, rule) in entity.attributes {
                for source in rule.precedence where departments[source] == nil {
                    throw ConfigurationError(message: "entities.\(kind).attributes.\(name).precedence: unknown department '\(source)'")
                }
                if rule.type == .code && (rule.values ?? []).isEmpty {
                    throw ConfigurationError(message: "entities.\(kind).attributes.\(name).values: a code attribute needs its values")
                }
            }
        }
        if let v = verification {
            for (name, value) in [("claimsPerMinute", v.claimsPerMinute), ("mismatchAlert", v.mismatchAlert), ("alertWindowMinutes", v.alertWindowMinutes)]
            where value < 1 {
                throw ConfigurationError(message: "verification.\(name): must be at least 1, got \(value)")
            }
        }
        for (kindName, m) in matching ?? [:] {
            guard let kind = EntityKind(rawValue: kindName) else { throw ConfigurationError(message: "matching.\(kindName): unknown entity kind") }
            guard m.compare.count <= 16 else {
                throw ConfigurationError(message: "matching.\(kindName).compare: at most 16 attributes, got \(m.compare.count)")
            }
            for attribute in m.compare.keys where rule(kind, attribute) == nil {
                throw ConfigurationError(message: "matching.\(kindName).compare.\(attribute): not an attribute of \(kindName)")
            }
            for (i, key) in m.block.enumerated() {
                guard !key.isEmpty else { throw ConfigurationError(message: "matching.\(kindName).block[\(i)]: a blocking key names at least one attribute") }
                for attribute in key where m.compare[attribute] == nil {
                    throw ConfigurationError(message: "matching.\(kindName).block[\(i)]: \(attribute) is not among the compared attributes")
                }
            }
            guard m.review > 0, m.review < m.link, m.link <= 1 else {
                throw ConfigurationError(message: "matching.\(kindName): thresholds must satisfy 0 < review < link ≤ 1, got review \(m.review), link \(m.link)")
            }
        }
        for (type, business) in businessTypes ?? [:] {
            for attribute in Array(business.set.keys) + business.attributes where rule(business.entity, attribute) == nil {
                throw ConfigurationError(message: "businessTypes.\(type): unknown attribute '\(attribute)'")
            }
        }
    }
}

/// Limits on `POST /v1/verify`, against enumeration: a verifier token may check
/// `claimsPerMinute` claims a minute (more is answered 429 with Retry-After), and
/// `mismatchAlert` verifications with a mismatch on one subject within
/// `alertWindowMinutes` are flagged in the audit trail.
public struct VerificationSettings: Sendable, Codable, Equatable {
    public var claimsPerMinute: Int
    public var mismatchAlert: Int
    public var alertWindowMinutes: Int

    public init(claimsPerMinute: Int = 60, mismatchAlert: Int = 5, alertWindowMinutes: Int = 10) {
        self.claimsPerMinute = claimsPerMinute; self.mismatchAlert = mismatchAlert; self.alertWindowMinutes = alertWindowMinutes
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = VerificationSettings()
        claimsPerMinute = try c.decodeIfPresent(Int.self, forKey: .claimsPerMinute) ?? d.claimsPerMinute
        mismatchAlert = try c.decodeIfPresent(Int.self, forKey: .mismatchAlert) ?? d.mismatchAlert
        alertWindowMinutes = try c.decodeIfPresent(Int.self, forKey: .alertWindowMinutes) ?? d.alertWindowMinutes
    }
}

/// How records of one kind without a national identifier are matched (DESIGN of the
/// project: `matching:` in the configuration): the attributes compared and their
/// comparators, the blocking keys that choose candidates, and the match probabilities
/// for an automatic link and for a review task.
public struct MatchingSettings: Sendable, Codable, Equatable {
    public var compare: [String: Comparator]
    public var block: [[String]]
    public var link: Double
    public var review: Double
    public init(compare: [String: Comparator], block: [[String]], link: Double = 0.98, review: Double = 0.70) {
        self.compare = compare; self.block = block; self.link = link; self.review = review
    }
}

public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public var description: String { message }
}
