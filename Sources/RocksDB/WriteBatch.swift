import CRocksDB

/// An atomic group of writes. Not thread-safe; build it on one task, then hand it to
/// ``Database/write(_:sync:logged:)``.
///
/// The batch is encoded here, in RocksDB's own encoding of a batch (``Records``), and handed
/// to RocksDB in one copy when it is written. Each key is put in the column family its tag
/// names (``KeyFamilies``): given the database's families when it is made, the batch is
/// written as it is; made without them, the database routes it when it is written.
public final class WriteBatch {
    private(set) var records: Records

    /// An empty batch whose keys go to the families of `families` (every key in the default
    /// family unless told).
    public init(families: KeyFamilies = .single) {
        records = Records(payload: 0, operations: 0, families: families)
    }

    /// A batch of the operations `records` holds.
    init(_ records: consuming Records) {
        self.records = records
    }

    /// The families the batch's keys were put in.
    public var families: KeyFamilies { records.families }

    public func put(_ key: [UInt8], _ value: [UInt8]) { records.put(key, value) }

    public func delete(_ key: [UInt8]) { records.delete(key) }

    /// Deletes every key in `[lower, upper)`, in every family the range reaches.
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
        records.deleteRange(from: lower, to: upper)
    }

    /// Number of operations in the batch (a range deletion counts once per family it reaches).
    public var count: Int { records.count }
    /// Size in bytes of the batch's encoding.
    public var byteSize: Int { records.bytes.count }
    public func clear() { records = Records(payload: 0, operations: 0, families: records.families) }
    /// The batch in RocksDB's encoding.
    var encoded: [UInt8] { withEncoded(Array.init) }

    /// Lends the batch's encoding, its count written into its header in place (a group's
    /// batch is megabytes: it is copied once, into RocksDB's batch, not twice).
    func withEncoded<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        records.sealCount()
        return try records.bytes.withUnsafeBufferPointer(body)
    }
}

extension WriteBatch {
    /// Operations encoded as RocksDB encodes a batch (`db/write_batch.cc`): a header of a
    /// sequence number (fixed64, zero until written) and a count (fixed32), then per
    /// operation a type byte and its key and value, each prefixed with its length as a
    /// varint32. In the default family a put is type 1, a deletion 0 and a range deletion
    /// 0x0F (its bounds as key and value); in another family they are 5, 4 and 0x0E, with the
    /// family's id as a varint32 after the type byte.
    ///
    /// A large group built one `rocksdb_writebatch_put` at a time made a call and an append
    /// to a growing string per key, with the string copied each time it doubled. Encoded
    /// here, into room sized beforehand, it is a copy per key and value, and one into the
    /// batch: a bulk request's group encoding 5.9 k → 5.1 k instructions an event (callgrind
    /// of the server).
    struct Records {
        private(set) var bytes: [UInt8]
        private(set) var count = 0
        let families: KeyFamilies

        /// Room for operations of `payload` bytes of keys and values and `operations` in all,
        /// each put in the family of `families` its key's tag names.
        init(payload: Int, operations: Int, families: KeyFamilies) {
            self.families = families
            bytes = []
            bytes.reserveCapacity(12 + payload + operations * 11)
            bytes.append(contentsOf: repeatElement(0, count: 12))
        }

        mutating func put(_ key: [UInt8], _ value: [UInt8]) {
            put(key, value, family: families.family(of: key))
        }

        mutating func delete(_ key: [UInt8]) {
            delete(key, family: families.family(of: key))
        }

        mutating func deleteRange(from lower: [UInt8], to upper: [UInt8]) {
            // Each family's deletion covers the whole range: its keys are only in its part.
            var done = Set<Int>()
            for part in families.parts(from: lower, to: upper) where done.insert(part.family).inserted {
                deleteRange(from: lower, to: upper, family: part.family)
            }
        }

        /// A range deletion in `family` alone.
        mutating func deleteRange(from lower: [UInt8], to upper: [UInt8], family: Int) {
            type(0x0F, 0x0E, family)
            appendPrefixed(lower)
            appendPrefixed(upper)
            count += 1
        }

        /// A put into `family` (an id of the database the batch is written to).
        mutating func put(_ key: [UInt8], _ value: [UInt8], family: Int) {
            type(1, 5, family)
            appendPrefixed(key)
            appendPrefixed(value)
            count += 1
        }

        mutating func delete(_ key: [UInt8], family: Int) {
            type(0, 4, family)
            appendPrefixed(key)
            count += 1
        }

        /// Writes the count into the header (again after more operations).
        mutating func sealCount() {
            precondition(count <= Int(UInt32.max), "more operations than a batch counts")
            let n = UInt32(count)
            bytes[8] = UInt8(truncatingIfNeeded: n)
            bytes[9] = UInt8(truncatingIfNeeded: n >> 8)
            bytes[10] = UInt8(truncatingIfNeeded: n >> 16)
            bytes[11] = UInt8(truncatingIfNeeded: n >> 24)
        }

        /// The same operations with each key in the family of `other` its tag names.
        func routed(for other: KeyFamilies) -> Records {
            var out = Records(payload: bytes.count, operations: count, families: other)
            var reader = Reader(bytes: bytes)
            while let op = reader.next() {
                switch op {
                case .put(let k, let v): out.put(k, v)
                case .delete(let k): out.delete(k)
                case .deleteRange(let l, let u, let family):
                    // Emitted once per family of the old layout; once in all is enough here.
                    if family == families.parts(from: l, to: u).first?.family { out.deleteRange(from: l, to: u) }
                }
            }
            return out
        }

        private mutating func type(_ inDefault: UInt8, _ inFamily: UInt8, _ family: Int) {
            if family == 0 {
                bytes.append(inDefault)
            } else {
                bytes.append(inFamily)
                appendVarint(UInt32(family))
            }
        }

        private mutating func appendPrefixed(_ data: [UInt8]) {
            precondition(data.count <= Int(UInt32.max), "a key or value longer than RocksDB's varint32 length")
            appendVarint(UInt32(data.count))
            bytes.append(contentsOf: data)
        }

        private mutating func appendVarint(_ value: UInt32) {
            var n = value
            while n >= 0x80 {
                bytes.append(UInt8(truncatingIfNeeded: n) | 0x80)
                n >>= 7
            }
            bytes.append(UInt8(n))
        }

        /// Reads back the operations this encoding writes.
        private struct Reader {
            enum Operation { case put([UInt8], [UInt8]), delete([UInt8]), deleteRange([UInt8], [UInt8], family: Int) }
            let bytes: [UInt8]
            var at = 12

            mutating func next() -> Operation? {
                guard at < bytes.count else { return nil }
                let type = bytes[at]; at += 1
                let family = type >= 4 && type != 0x0F ? Int(varint()) : 0
                switch type {
                case 1, 5: let k = slice(); return .put(k, slice())
                case 0, 4: return .delete(slice())
                case 0x0E, 0x0F: let l = slice(); return .deleteRange(l, slice(), family: family)
                default: preconditionFailure("an operation this encoding never writes: \(type)")
                }
            }

            private mutating func varint() -> UInt32 {
                var n: UInt32 = 0, shift: UInt32 = 0
                while true {
                    let b = bytes[at]; at += 1
                    n |= UInt32(b & 0x7F) << shift
                    if b < 0x80 { return n }
                    shift += 7
                }
            }

            private mutating func slice() -> [UInt8] {
                let n = Int(varint())
                defer { at += n }
                return Array(bytes[at..<(at + n)])
            }
        }
    }
}
