import RocksDB

/// Where the sync layer keeps its durable subscriptions and their cursors: one record per
/// subscription under ``Keys/subscription`` in the hub's database. The sync layer owns the
/// records' content; the storage layer owns the keys and the writes.
public struct SubscriptionRecords: Sendable {
    let database: Database

    public init(hub: Hub) { database = hub.database }
    init(database: Database) { self.database = database }

    /// Every stored record.
    /// - Throws: ``RocksDBError`` when the scan fails.
    public func all() throws -> [[UInt8]] {
        var out: [[UInt8]] = []
        try database.scan(from: [Keys.subscription], to: [Keys.subscription + 1]) { _, value in
            out.append(value)
            return true
        }
        return out
    }

    /// Subscription `id`'s record, if stored.
    /// - Throws: ``RocksDBError`` when it cannot be read.
    public func get(_ id: String) throws -> [UInt8]? {
        try database.get(Keys.subscriptionKey(id))
    }

    /// A replica's write of a subscription entry, in the entry's batch: a created record
    /// stored, an update merged by `applier` into the stored record (dropped when the
    /// subscription was removed meanwhile), a removal.
    public static func effect(_ write: SubscriptionWrite, applier: any SubscriptionApplier) -> StoreEffect {
        { read in
            let key = Keys.subscriptionKey(write.id)
            switch write {
            case .create(_, let record): return [(key, record)]
            case .update(_, let record):
                guard let stored = try read(key) else { return [] }
                return [(key, try applier.merged(stored: stored, incoming: record))]
            case .remove: return [(key, nil)]
            }
        }
    }

    /// Stores `record` as subscription `id`'s, durably (a synced write: an acknowledged
    /// cursor must survive a crash).
    /// - Throws: ``RocksDBError`` when it cannot be written.
    public func put(_ id: String, _ record: [UInt8]) throws {
        try database.put(Keys.subscriptionKey(id), record, sync: true)
    }

    /// Removes subscription `id`'s record, durably.
    /// - Throws: ``RocksDBError`` when it cannot be written.
    public func delete(_ id: String) throws {
        let batch = WriteBatch()
        batch.delete(Keys.subscriptionKey(id))
        try database.write(batch, sync: true)
    }
}

/// Where subscription records are written on a cluster node: into the replicated log, so
/// that every node holds them and any node answers for any subscription
/// (docs/ARCHITECTURE.md, "Cluster").
public protocol SubscriptionLedger: Sendable {
    /// Puts `write` into the log and returns once this node has applied it.
    /// - Throws: when the log did not acknowledge (the write may or may not be in it).
    func writeSubscription(_ write: SubscriptionWrite) async throws
}

/// A write of a subscription's record (the sync layer's bytes).
public enum SubscriptionWrite: Sendable {
    case create(id: String, record: [UInt8])
    /// The whole record as the writer changed it; merged with the stored one.
    case update(id: String, record: [UInt8])
    case remove(id: String)

    public var id: String {
        switch self {
        case .create(let id, _), .update(let id, _), .remove(let id): return id
        }
    }
}

/// How a replica applies a subscription entry; the sync layer owns the records' content.
public protocol SubscriptionApplier: Sendable {
    /// The record to store for an update carrying `incoming` when `stored` is stored (what
    /// two nodes wrote at once is merged, not lost: a cursor only moves forward).
    /// - Throws: when a record cannot be read.
    func merged(stored: [UInt8], incoming: [UInt8]) throws -> [UInt8]
    /// Called once the entry's write is durable on this node, in log order.
    /// - Throws: when the stored record cannot be read.
    func applied(id: String) throws
}
