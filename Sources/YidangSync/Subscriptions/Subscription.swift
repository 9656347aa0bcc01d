import Foundation
import JSON
import YidangModel

/// A subscriber system's durable subscription: filters, field policy, delivery and cursor.
public struct Subscription: Sendable, Hashable {
    public enum Status: String, Sendable { case active, paused }
    public struct Webhook: Sendable, Hashable {
        public var url: String
        /// `whsec_<base64 key>` (Standard Webhooks); shown once at creation.
        public var secret: String
    }
    /// How the changes leave the hub.
    public enum Delivery: Sendable, Hashable {
        /// The subscriber reads them (SSE, long-poll pages) and acknowledges.
        case pull
        /// The hub POSTs them to a URL (``WebhookTransport``).
        case webhook(Webhook)

        /// The API and stored name: `pull`, `webhook`.
        public var name: String {
            switch self {
            case .pull: return "pull"
            case .webhook: return "webhook"
            }
        }
    }

    public var id: String
    public var name: String
    /// The token holder who created it.
    public var owner: String
    /// The owner's department, if any: correction notices addressed to it are delivered here.
    public var ownerDepartment: String?
    /// Entity kinds to deliver (empty: all).
    public var kinds: [EntityKind] = []
    /// Attributes to deliver (empty: all the policy allows).
    public var attributes: [String] = []
    /// Region-code prefixes matched against the golden `regionCode` (empty: all).
    public var regions: [String] = []
    /// Highest sensitivity this subscriber may see.
    public var clearance: Sensitivity = .L2
    /// Optional allow-list: only these attributes, whatever their level.
    public var allow: [String]?
    public var delivery: Delivery = .pull
    /// The webhook, for a subscription delivered by one.
    public var webhook: Webhook? {
        if case .webhook(let w) = delivery { return w }
        return nil
    }
    /// Last change position delivered and acknowledged.
    public var cursor: UInt64 = 0
    public var status: Status = .active
    public var failures: Int = 0
    public var lastError: String?
    public var created: String = ""
    public var deliveries: UInt64 = 0

    public init(id: String, name: String, owner: String) { self.id = id; self.name = name; self.owner = owner }

    /// The stored and API form; the webhook secret only when `includeSecret`.
    public func json(includeSecret: Bool = false) -> JSONValue {
        var o: JSONObject = [
            "id": .string(id), "name": .string(name), "owner": .string(owner), "ownerDepartment": JSONValue(ownerDepartment),
            "kinds": .array(kinds.map { .string($0.rawValue) }), "attributes": .array(attributes.map { .string($0) }),
            "regions": .array(regions.map { .string($0) }), "clearance": .string(clearance.rawValue),
            "allow": allow.map { .array($0.map { .string($0) }) } ?? .null,
            "cursor": JSONValue(cursor), "status": .string(status.rawValue), "failures": JSONValue(failures),
            "lastError": JSONValue(lastError), "created": .string(created), "deliveries": JSONValue(deliveries),
            "delivery": .string(delivery.name),
        ]
        if let w = webhook {
            var wo: JSONObject = ["url": .string(w.url)]
            if includeSecret { wo["secret"] = .string(w.secret) }
            o["webhook"] = .object(wo)
        }
        return .object(o)
    }

    init?(stored v: JSONValue) {
        guard let id = v["id"]?.stringValue, let name = v["name"]?.stringValue, let owner = v["owner"]?.stringValue else { return nil }
        self.init(id: id, name: name, owner: owner)
        ownerDepartment = v["ownerDepartment"]?.stringValue
        kinds = v["kinds"]?.arrayValue?.compactMap { $0.stringValue.flatMap(EntityKind.init(rawValue:)) } ?? []
        attributes = v["attributes"]?.arrayValue?.compactMap(\.stringValue) ?? []
        regions = v["regions"]?.arrayValue?.compactMap(\.stringValue) ?? []
        clearance = v["clearance"]?.stringValue.flatMap(Sensitivity.init(rawValue:)) ?? .L1
        allow = v["allow"]?.arrayValue?.compactMap(\.stringValue)
        cursor = v["cursor"]?.numberText.flatMap { UInt64($0) } ?? 0
        status = v["status"]?.stringValue.flatMap(Status.init(rawValue:)) ?? .active
        failures = v["failures"]?.intValue ?? 0
        lastError = v["lastError"]?.stringValue
        created = v["created"]?.stringValue ?? ""
        deliveries = v["deliveries"]?.numberText.flatMap { UInt64($0) } ?? 0
        if let url = v["webhook"]?["url"]?.stringValue, let secret = v["webhook"]?["secret"]?.stringValue {
            delivery = .webhook(Webhook(url: url, secret: secret))
        }
    }
}

/// Why a subscription request was refused (field and reason).
public struct SubscriptionError: Error, Sendable, CustomStringConvertible {
    public let field: String
    public let reason: String
    public var description: String { "\(field): \(reason)" }
}
