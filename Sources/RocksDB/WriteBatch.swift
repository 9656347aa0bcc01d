import CRocksDB

/// An atomic group of writes. Not thread-safe; build it on one task, then hand it to
/// ``Database/write(_:sync:)``.
public final class WriteBatch {
    let pointer: OpaquePointer

    public init() { pointer = allocated(rocksdb_writebatch_create(), "write batch") }
    deinit { rocksdb_writebatch_destroy(pointer) }

    public func put(_ key: [UInt8], _ value: [UInt8]) {
        key.withUnsafeBufferPointer { k in
            value.withUnsafeBufferPointer { v in
                k.withMemoryRebound(to: CChar.self) { kc in
                    v.withMemoryRebound(to: CChar.self) { vc in
                        rocksdb_writebatch_put(pointer, kc.baseAddress, kc.count, vc.baseAddress, vc.count)
                    }
                }
            }
        }
    }

    public func delete(_ key: [UInt8]) {
        key.withUnsafeBufferPointer { k in
            k.withMemoryRebound(to: CChar.self) { kc in rocksdb_writebatch_delete(pointer, kc.baseAddress, kc.count) }
        }
    }

    /// Deletes every key in `[lower, upper)`.
    ///
    /// `lower` is at most one byte long (a whole tag, or everything). RocksDB 7.8 keeps one
    /// memtable insert hint per key prefix for point keys and range deletions alike, and a
    /// hint taken from one skiplist and used on the other aborts the process (later versions
    /// keep hints for point keys only). The store's hints cover keys of two bytes or more
    /// (``Database/insertHintPrefixBytes``), so a range deletion from a shorter key never
    /// uses one.
    public func deleteRange(from lower: [UInt8], to upper: [UInt8]) {
        precondition(lower.count < Database.insertHintPrefixBytes,
                     "a range deletion starts at a key shorter than the memtable's insert-hint prefixes")
        lower.withUnsafeBufferPointer { l in
            upper.withUnsafeBufferPointer { u in
                l.withMemoryRebound(to: CChar.self) { lc in
                    u.withMemoryRebound(to: CChar.self) { uc in
                        rocksdb_writebatch_delete_range(pointer, lc.baseAddress, lc.count, uc.baseAddress, uc.count)
                    }
                }
            }
        }
    }

    /// Number of operations in the batch.
    public var count: Int { Int(rocksdb_writebatch_count(pointer)) }
    /// Approximate size in bytes.
    public var byteSize: Int {
        var size = 0
        _ = rocksdb_writebatch_data(pointer, &size)
        return size
    }
    public func clear() { rocksdb_writebatch_clear(pointer) }
}
