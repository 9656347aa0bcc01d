import Crypto
import RocksDB

/// A SHA-256 digest of a store's truth and everything derived from it: the log, its
/// indexes and every derived record (keys below `0x20`), and the subscriptions with their
/// cursors, each key and value with its length (a subject's index entries one position
/// each). Two replicas that applied the same log the same way have the same digest; tokens
/// (their last use), the audit trail and counters of rejections are each node's own and
/// left out.
public enum StoreDigest {
    /// - Throws: when the store cannot be read.
    public static func compute(_ database: Database) throws -> String {
        var hash = SHA256()
        func length(_ n: Int) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: n >> (24 - 8 * $0)) } }
        func add(_ key: [UInt8], _ value: [UInt8]) {
            hash.update(data: length(key.count)); hash.update(data: key)
            hash.update(data: length(value.count)); hash.update(data: value)
        }
        try database.scan(from: [Keys.log], to: Keys.derivedRange.upper) { key, value in
            // How a subject's positions are grouped into runs depends on how the writer
            // grouped its commits, which differs between replicas: digested one position
            // per entry, as a run of one is stored.
            if key.first == Keys.subjectIndex, !value.isEmpty, let subject = Keys.subject(ofIndexKey: key) {
                for p in try SubjectRun.positions(key: key, value: value) { add(Keys.subjectKey(subject, p), []) }
            } else {
                add(key, value)
            }
            return true
        }
        try database.scan(from: [Keys.subscription], to: [Keys.subscription + 1]) { key, value in
            add(key, value)
            return true
        }
        return Hex.encode(Array(hash.finalize()))
    }
}
