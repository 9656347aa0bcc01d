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
