import CRocksDB

/// An atomic group of writes. Not thread-safe; build it on one task, then hand it to
/// ``Database/write(_:sync:)``.
public final class WriteBatch {
    let pointer: OpaquePointer

    public init() { pointer = allocated(rocksdb_writebatch_create(), "write batch") }

    /// A batch of the operations `records` holds in RocksDB's own encoding of a batch
    /// (``Records``), taken over in one copy.
    init(_ records: consuming Records) {
        records.sealCount()
        pointer = records.bytes.withUnsafeBufferPointer { b in
            b.withMemoryRebound(to: CChar.self) { allocated(rocksdb_writebatch_create_from($0.baseAddress, $0.count), "write batch") }
        }
    }
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
    public var byteSize: Int { withData(\.count) }
    public func clear() { rocksdb_writebatch_clear(pointer) }
    /// The batch in RocksDB's encoding.
    var encoded: [UInt8] { withData(Array.init) }

    private func withData<R>(_ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        var size = 0
        guard let data = rocksdb_writebatch_data(pointer, &size) else { return body(UnsafeBufferPointer(start: nil, count: 0)) }
        return data.withMemoryRebound(to: UInt8.self, capacity: size) { body(UnsafeBufferPointer(start: $0, count: size)) }
    }
}

extension WriteBatch {
    /// Puts and deletes encoded as RocksDB encodes a batch (`db/write_batch.cc`): a header of
    /// a sequence number (fixed64, zero until written) and a count (fixed32), then per
    /// operation a type byte (1 a put, 0 a delete) and its key and value, each prefixed with
    /// its length as a varint32.
    ///
    /// A large group built one `rocksdb_writebatch_put` at a time made a call and an append
    /// to a growing string per key, with the string copied each time it doubled. Encoded
    /// here, into room sized beforehand, it is a copy per key and value, and one into the
    /// batch: a bulk request's group encoding 5.9 k → 5.1 k instructions an event (callgrind
    /// of the server).
    struct Records {
        private(set) var bytes: [UInt8]
        private var count: UInt32 = 0

        /// Room for operations of `payload` bytes of keys and values and `operations` in all.
        init(payload: Int, operations: Int) {
            bytes = []
            bytes.reserveCapacity(12 + payload + operations * 11)
            bytes.append(contentsOf: repeatElement(0, count: 12))
        }

        mutating func put(_ key: [UInt8], _ value: [UInt8]) {
            bytes.append(1)
            appendPrefixed(key)
            appendPrefixed(value)
            count += 1
        }

        mutating func delete(_ key: [UInt8]) {
            bytes.append(0)
            appendPrefixed(key)
            count += 1
        }

        /// Writes the count into the header (once, when the batch is made).
        fileprivate mutating func sealCount() {
            bytes[8] = UInt8(truncatingIfNeeded: count)
            bytes[9] = UInt8(truncatingIfNeeded: count >> 8)
            bytes[10] = UInt8(truncatingIfNeeded: count >> 16)
            bytes[11] = UInt8(truncatingIfNeeded: count >> 24)
        }

        private mutating func appendPrefixed(_ data: [UInt8]) {
            precondition(data.count <= Int(UInt32.max), "a key or value longer than RocksDB's varint32 length")
            var n = UInt32(data.count)
            while n >= 0x80 {
                bytes.append(UInt8(truncatingIfNeeded: n) | 0x80)
                n >>= 7
            }
            bytes.append(UInt8(n))
            bytes.append(contentsOf: data)
        }
    }
}
