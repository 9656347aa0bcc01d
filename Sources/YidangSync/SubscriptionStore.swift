import Foundation
import JSON
import RocksDB
import YidangModel
import YidangStore

/// Durable subscriptions (key `0x23 ‖ id`), with their cursors, in the hub's database.
public final class SubscriptionStore: @unchecked Sendable {
    let database: Database
    let configuration: Configuration
    private let lock = NSLock()
    private var cache: [String: Subscription] = [:]
    static let prefix: UInt8 = 0x23

    public init(database: Database, configuration: Configuration) throws {
        self.database = database
        self.configuration = configuration
        try database.scan(from: [Self.prefix], to: [Self.prefix + 1]) { _, value in
            if let v = try? JSONParser.parse(value), let s = Subscription(stored: v) { cache[s.id] = s }
            return true
        }
    }

    static func key(_ id: String) -> [UInt8] { [prefix] + Array(id.utf8) }

    /// Parses a creation request and stores the new subscription.
    /// - Parameters:
    ///   - maxClearance: the highest level the caller may grant.
    ///   - head: the current change position (for `"start": "now"`).
    /// - Throws: ``SubscriptionError`` naming the bad field.
    public func create(request body: JSONValue, owner: String, ownerDepartment: String?, maxClearance: Sensitivity, head: UInt64) throws -> Subscription {
        guard case .object(let o) = body else { throw SubscriptionError(field: "(body)", reason: "must be a JSON object") }
        guard let name = o["name"]?.stringValue, !name.isEmpty else { throw SubscriptionError(field: "name", reason: "is required") }
        var s = Subscription(id: "sub_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16), name: name, owner: owner)
        s.ownerDepartment = ownerDepartment
        s.kinds = try strings(o["kinds"], "kinds").map { k in
            guard let kind = EntityKind(rawValue: k) else { throw SubscriptionError(field: "kinds", reason: "\"\(k)\" is not person or enterprise") }
            return kind
        }
        let known = Set(configuration.entities.values.flatMap { $0.attributes.keys })
        s.attributes = try strings(o["attributes"], "attributes")
        for a in s.attributes where !known.contains(a) { throw SubscriptionError(field: "attributes", reason: "\"\(a)\" is not a configured attribute") }
        s.regions = try strings(o["regions"], "regions")
        for r in s.regions where r.isEmpty || r.count > 6 || !r.allSatisfy({ $0.isASCII && $0.isNumber }) {
            throw SubscriptionError(field: "regions", reason: "\"\(r)\" is not a region-code prefix (1 to 6 digits)")
        }
        if let c = o["clearance"] {
            guard let level = c.stringValue.flatMap(Sensitivity.init(rawValue:)) else {
                throw SubscriptionError(field: "clearance", reason: "must be L1, L2, L3 or L4")
            }
            guard level <= maxClearance else { throw SubscriptionError(field: "clearance", reason: "this token may grant at most \(maxClearance.rawValue)") }
            s.clearance = level
        } else {
            s.clearance = min(.L2, maxClearance)
        }
        if o["allow"] != nil {
            s.allow = try strings(o["allow"], "allow")
            for a in s.allow ?? [] where !known.contains(a) { throw SubscriptionError(field: "allow", reason: "\"\(a)\" is not a configured attribute") }
        }
        if let w = o["webhook"], !w.isNull {
            guard let url = w["url"]?.stringValue, let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme ?? ""), parsed.host != nil else {
                throw SubscriptionError(field: "webhook.url", reason: "must be an http(s) URL")
            }
            var key = [UInt8](repeating: 0, count: 32)
            var rng = SystemRandomNumberGenerator()
            for i in key.indices { key[i] = UInt8.random(in: 0...255, using: &rng) }
            s.webhook = Subscription.Webhook(url: url, secret: "whsec_" + Data(key).base64EncodedString())
        }
        switch o["start"]?.stringValue ?? "beginning" {
        case "beginning": s.cursor = 0
        case "now": s.cursor = head
        default: throw SubscriptionError(field: "start", reason: "must be beginning or now")
        }
        s.created = ISO8601DateFormatter().string(from: Date())
        try save(s)
        return s
    }

    func strings(_ v: JSONValue?, _ field: String) throws -> [String] {
        guard let v, !v.isNull else { return [] }
        guard case .array(let items) = v else { throw SubscriptionError(field: field, reason: "must be an array of strings") }
        return try items.map { item in
            guard let s = item.stringValue else { throw SubscriptionError(field: field, reason: "must be an array of strings") }
            return s
        }
    }

    public func get(_ id: String) -> Subscription? { lock.lock(); defer { lock.unlock() }; return cache[id] }

    public func list() -> [Subscription] {
        lock.lock(); defer { lock.unlock() }
        return cache.values.sorted { $0.created == $1.created ? $0.id < $1.id : $0.created < $1.created }
    }

    public func delete(_ id: String) throws -> Bool {
        lock.lock(); defer { lock.unlock() }
        guard cache.removeValue(forKey: id) != nil else { return false }
        let b = WriteBatch()
        b.delete(Self.key(id))
        try database.write(b, sync: true)
        return true
    }

    func save(_ s: Subscription) throws {
        lock.lock(); defer { lock.unlock() }
        try database.put(Self.key(s.id), JSONWriter.bytes(s.json(includeSecret: true)), sync: true)
        cache[s.id] = s
    }

    /// Applies `change` to the stored subscription atomically; returns the result.
    @discardableResult
    public func update(_ id: String, _ change: (inout Subscription) throws -> Void) throws -> Subscription? {
        lock.lock(); defer { lock.unlock() }
        guard var s = cache[id] else { return nil }
        try change(&s)
        try database.put(Self.key(s.id), JSONWriter.bytes(s.json(includeSecret: true)), sync: true)
        cache[id] = s
        return s
    }
}

extension StoreReader: StoreReaderProtocol {}
