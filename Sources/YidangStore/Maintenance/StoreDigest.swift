import Crypto
import RocksDB

/// A SHA-256 digest of a store's truth and everything derived from it: the log, its
/// indexes and every derived record (keys below `0x20`), each key and value with its
/// length. Two replicas that applied the same log the same way have the same digest;
/// tokens, the audit trail, subscriptions and counters of rejections are each node's own
/// and left out.
public enum StoreDigest {
    /// - Throws: when the store cannot be read.
    public static func compute(_ database: Database) throws -> String {
        var hash = SHA256()
        func length(_ n: Int) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: n >> (24 - 8 * $0)) } }
        try database.scan(from: [Keys.log], to: Keys.derivedRange.upper) { key, value in
            hash.update(data: length(key.count)); hash.update(data: key)
            hash.update(data: length(value.count)); hash.update(data: value)
            return true
        }
        return Hex.encode(Array(hash.finalize()))
    }
}
