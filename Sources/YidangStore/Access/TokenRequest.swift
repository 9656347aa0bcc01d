import JSON
import YidangModel

/// A request for a new token (`POST /v1/tokens`, `yidang tokens create`), checked.
public struct TokenRequest: Sendable {
    public var role: Role
    public var source: String?
    public var name: String
    public var clearance: Sensitivity?
    public var attributes: Set<String>?
    public var expires: Int64?

    /// Checks `{role, source, name, clearance, attributes, expires}`: a publisher needs a
    /// configured department; a clearance no higher than the grantor's; an attribute
    /// allow-list only for verifiers, of known attributes; `expires` a lifetime (`90d`) or
    /// a future RFC 3339 time.
    /// - Throws: ``EventRejection`` naming the field.
    public init(_ body: JSONValue, configuration: Configuration, grantor: Sensitivity = .L4,
                now: Int64 = Timestamp.now()) throws(EventRejection) {
        func invalid(_ field: String, _ reason: String) -> EventRejection { EventRejection(field, .invalidField, reason) }
        guard case .object(let o) = body else { throw invalid("(body)", "must be a JSON object") }
        for key in o.keys where !["role", "source", "name", "clearance", "attributes", "expires"].contains(key) {
            throw invalid(key, "is not a field of a token request (role, source, name, clearance, attributes, expires)")
        }
        for key in ["source", "name"] {
            if let v = o[key], v != .null, v.stringValue == nil { throw invalid(key, "must be a string") }
        }
        guard let roleText = o["role"]?.stringValue, let role = Role(rawValue: roleText) else {
            throw invalid("role", "must be one of \(Role.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        self.role = role
        source = o["source"]?.stringValue
        if role == .publisher {
            guard let source else { throw invalid("source", "a publisher token needs its department code") }
            guard configuration.departments[source] != nil else {
                throw invalid("source", "\"\(source)\" is not a configured department (\(configuration.departments.keys.sorted().joined(separator: ", ")))")
            }
        }
        name = o["name"]?.stringValue ?? "\(role.rawValue)\(source.map { "-" + $0 } ?? "")"
        if let c = o["clearance"], c != .null {
            guard let level = c.stringValue.flatMap(Sensitivity.init(rawValue:)) else { throw invalid("clearance", "must be L1, L2, L3 or L4") }
            guard level <= grantor else { throw invalid("clearance", "\(level.rawValue) is above the grantor's own \(grantor.rawValue)") }
            clearance = level
        }
        if let a = o["attributes"], a != .null {
            guard let list = a.arrayValue, !list.isEmpty, list.allSatisfy({ $0.stringValue != nil }) else {
                throw invalid("attributes", "must be a non-empty array of attribute names")
            }
            let names = list.compactMap(\.stringValue)
            for (i, name) in names.enumerated() where !EntityKind.allCases.contains(where: { configuration.rule($0, name) != nil }) {
                throw invalid("attributes[\(i)]", "\"\(name)\" is not an attribute of any entity kind")
            }
            guard role == .verifier else { throw invalid("attributes", "an attribute allow-list is for verifier tokens") }
            attributes = Set(names)
        }
        if let e = o["expires"], e != .null {
            guard let text = e.stringValue else { throw invalid("expires", "must be a lifetime such as 90d, or an RFC 3339 time") }
            expires = try TokenStore.expiry(text, field: "expires", now: now)
        }
    }
}

extension TokenStore {
    /// Creates the token `request` asks for.
    public func issue(_ request: TokenRequest) throws -> IssuedToken {
        try issue(role: request.role, source: request.source, name: request.name, clearance: request.clearance,
                  attributes: request.attributes, expires: request.expires)
    }
}
