import Foundation
import Synchronization
import JSON
import YidangModel
import YidangStore

/// Durable subscriptions, with their cursors, kept through the storage layer's
/// ``SubscriptionRecords`` and cached in memory (every read is from the cache).
///
/// On a single node a write goes straight to the database (synced) under the cache's lock,
/// so two updates of one subscription never interleave. On a cluster node it goes through
/// the replicated log (``writeThrough(_:)``): every node applies it, and two nodes' updates
/// of one subscription are merged (``merged(stored:incoming:)``), the cursor never moving
/// back.
public final class SubscriptionStore: Sendable {
    let records: SubscriptionRecords
    let configuration: Configuration
    private let cache = Mutex<[String: Subscription]>([:])
    private let ledger = Mutex<(any SubscriptionLedger)?>(nil)

    /// Loads every stored subscription.
    /// - Throws: when the records cannot be read, or one of them is not a subscription
    ///   (a store this layer did not write; skipping it would silently drop a subscriber).
    public init(records: SubscriptionRecords, configuration: Configuration) throws {
        self.records = records
        self.configuration = configuration
        var loaded: [String: Subscription] = [:]
        for value in try records.all() {
            let s = try Self.decode(value)
            loaded[s.id] = s
        }
        cache.withLock { $0 = loaded }
    }

    public convenience init(hub: Hub) throws {
        try self.init(records: SubscriptionRecords(hub: hub), configuration: hub.configuration)
    }

    /// From now on, writes go through `ledger` (a cluster node's replicated log).
    public func writeThrough(_ ledger: any SubscriptionLedger) { self.ledger.withLock { $0 = ledger } }
    private var replicated: (any SubscriptionLedger)? { ledger.withLock { $0 } }

    /// Parses a creation request and stores the new subscription.
    /// - Parameters:
    ///   - maxClearance: the highest level the caller may grant.
    ///   - head: the current change position (for `"start": "now"`).
    /// - Throws: ``SubscriptionError`` naming the bad field.
    public func create(request body: JSONValue, owner: String, ownerDepartment: String?, maxClearance: Sensitivity, head: UInt64) async throws -> Subscription {
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
            s.delivery = .webhook(Subscription.Webhook(url: url, secret: "whsec_" + Data(key).base64EncodedString()))
        }
        var start = "beginning"
        if let v = o["start"], !v.isNull {
            guard let text = v.stringValue else { throw SubscriptionError(field: "start", reason: "must be beginning or now") }
            start = text
        }
        switch start {
        case "beginning": s.cursor = 0
        case "now": s.cursor = head
        default: throw SubscriptionError(field: "start", reason: "must be beginning or now")
        }
        s.created = ISO8601DateFormatter().string(from: Date())
        try await save(s)
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

    public func get(_ id: String) -> Subscription? { cache.withLock { $0[id] } }

    public func list() -> [Subscription] {
        cache.withLock { $0.values.sorted { $0.created == $1.created ? $0.id < $1.id : $0.created < $1.created } }
    }

    /// Removes subscription `id`; false when there is none.
    /// - Throws: when the removal cannot be written.
    public func delete(_ id: String) async throws -> Bool {
        if let ledger = replicated {
            guard get(id) != nil else { return false }
            try await ledger.writeSubscription(.remove(id: id))
            return true
        }
        return try cache.withLock { cache in
            guard cache[id] != nil else { return false }
            try records.delete(id)
            cache.removeValue(forKey: id)
            return true
        }
    }

    func save(_ s: Subscription) async throws {
        let record = Self.encode(s)
        if let ledger = replicated {
            try await ledger.writeSubscription(.create(id: s.id, record: record))
            return
        }
        try cache.withLock { cache in
            try records.put(s.id, record)
            cache[s.id] = s
        }
    }

    /// Applies `change` to the stored subscription and stores the result; returns it as
    /// stored (nil: no such subscription). On a cluster node the result is the merge with
    /// what other nodes wrote meanwhile.
    /// - Throws: what `change` throws, or the write's error.
    @discardableResult
    public func update(_ id: String, _ change: (inout Subscription) throws -> Void) async throws -> Subscription? {
        if let ledger = replicated {
            guard var s = get(id) else { return nil }
            try change(&s)
            try await ledger.writeSubscription(.update(id: id, record: Self.encode(s)))
            return get(id)
        }
        return try cache.withLock { cache in
            guard var s = cache[id] else { return nil }
            try change(&s)
            try records.put(s.id, Self.encode(s))
            cache[id] = s
            return s
        }
    }

    /// A subscription as stored (its webhook secret included).
    static func encode(_ s: Subscription) -> [UInt8] { JSONWriter.bytes(s.json(includeSecret: true)) }

    static func decode(_ value: [UInt8]) throws -> Subscription {
        guard let s = Subscription(stored: try JSONParser.parse(value)) else {
            throw SubscriptionError(field: "(stored)", reason: "a stored subscription record is not readable: \(String(decoding: value, as: UTF8.self))")
        }
        return s
    }
}

extension SubscriptionStore: SubscriptionApplier {
    /// The incoming record, with the cursor and the delivery count never below the stored
    /// ones (two nodes moving one cursor: the furthest wins).
    public func merged(stored: [UInt8], incoming: [UInt8]) throws -> [UInt8] {
        let old = try Self.decode(stored)
        var new = try Self.decode(incoming)
        new.cursor = max(old.cursor, new.cursor)
        new.deliveries = max(old.deliveries, new.deliveries)
        return Self.encode(new)
    }

    /// Reads subscription `id`'s record as applied into the cache.
    public func applied(id: String) throws {
        let stored = try records.get(id).map(Self.decode)
        cache.withLock { $0[id] = stored }
    }
}

extension StoreReader: StoreReaderProtocol {}
