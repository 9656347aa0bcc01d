import CRocksDB
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Gathers puts and deletes and hands them to RocksDB in key order.
///
/// A memtable insert walks a skiplist from the previous insert's position when it can; in
/// key order each insert starts next to its predecessor, instead of a cache-missing walk
/// from the top for every random key (subject and idempotency indexes, golden records).
/// Operations on the same key keep their relative order, so the batch means exactly what
/// the sequence of calls meant.
public final class OrderedWriteBatch {
    private var keys: [[UInt8]] = []
    /// nil: a delete.
    private var values: [[UInt8]?] = []

    public init(capacity: Int = 0) {
        keys.reserveCapacity(capacity)
        values.reserveCapacity(capacity)
    }

    public func put(_ key: [UInt8], _ value: [UInt8]) { keys.append(key); values.append(value) }
    public func delete(_ key: [UInt8]) { keys.append(key); values.append(nil) }

    /// Number of operations gathered.
    public var count: Int { keys.count }

    /// The operations as one RocksDB batch, sorted by key (stable).
    public func build() -> WriteBatch {
        let batch = WriteBatch()
        for i in bytewiseOrder(keys) {
            if let v = values[i] { batch.put(keys[i], v) } else { batch.delete(keys[i]) }
        }
        return batch
    }

    /// Writes the operations into a table file in key order, each key once with its last
    /// operation (what the batch would leave): a table file holds every key at most once.
    /// - Throws: ``RocksDBError`` for a failed write.
    public func write(to file: SortedFileWriter) throws {
        try write(to: [file], splitAt: [])
    }

    /// Like ``write(to:)``, into several files by the key's first byte: a key goes into
    /// `files[i]`, where `i` is the number of `bounds` at or below its first byte (`bounds`
    /// ascending, one fewer than `files`). Table files whose key ranges do not overlap, to
    /// be ingested together.
    public func write(to files: [SortedFileWriter], splitAt bounds: [UInt8]) throws {
        precondition(files.count == bounds.count + 1, "one file more than bounds")
        let order = bytewiseOrder(keys)
        // Keys come in order: the file only ever moves forward.
        var target = 0
        for (n, i) in order.enumerated() {
            // Equal keys are adjacent, in the order given: only the last one counts.
            if n + 1 < order.count, keys[order[n + 1]] == keys[i] { continue }
            let first = keys[i].first ?? 0
            while target < bounds.count, first >= bounds[target] { target += 1 }
            if let v = values[i] { try files[target].put(keys[i], v) } else { try files[target].delete(keys[i]) }
        }
    }
}

/// The indices of `keys` in the order of RocksDB's default (bytewise) comparator — memcmp,
/// shorter first on a common prefix — keeping the given order among equal keys.
public func bytewiseOrder(_ keys: [[UInt8]]) -> [Int] {
    // The first sixteen key bytes as two big-endian integers decide almost every comparison
    // without touching the key arrays.
    var order: [SortKey] = []
    order.reserveCapacity(keys.count)
    for (i, k) in keys.enumerated() {
        order.append(SortKey(high: BytewiseOrder.word(k, 0), low: BytewiseOrder.word(k, 8), index: i))
    }
    order.sort { x, y in
        if x.high != y.high { return x.high < y.high }
        if x.low != y.low { return x.low < y.low }
        let c = keys[x.index].withUnsafeBufferPointer { a in
            keys[y.index].withUnsafeBufferPointer { b in BytewiseOrder.compare(a, b) }
        }
        return c != 0 ? c < 0 : x.index < y.index
    }
    return order.map(\.index)
}

private struct SortKey {
    var high: UInt64
    var low: UInt64
    var index: Int
}

/// RocksDB's default comparator, and the prefix words that let a sort decide most
/// comparisons without touching the keys' bytes (``bytewiseOrder(_:)``, and a replay's
/// small writes in `YidangStore`).
public enum BytewiseOrder {
    /// Bytes `from..<from+8` of `key` as a big-endian integer, zero-padded: comparing the
    /// words of two keys at 0 and 8 orders them as their first sixteen bytes do.
    public static func word(_ key: [UInt8], _ from: Int) -> UInt64 {
        var w: UInt64 = 0
        for i in from..<(from + 8) { w = w << 8 | UInt64(i < key.count ? key[i] : 0) }
        return w
    }

    /// memcmp order, shorter first on a common prefix: negative, zero or positive.
    public static func compare(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Int {
        let n = Swift.min(a.count, b.count)
        if n > 0, let x = a.baseAddress, let y = b.baseAddress {
            let m = memcmp(x, y, n)
            if m != 0 { return Int(m) }
        }
        return a.count - b.count
    }
}
