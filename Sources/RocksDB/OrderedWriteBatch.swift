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

    /// The operations as one RocksDB batch, sorted by key (stable), each key in the family of
    /// `families` its tag names (those of the database it is written to).
    public func build(families: KeyFamilies = .single) -> WriteBatch {
        var payload = 0
        for (k, v) in zip(keys, values) { payload += k.count + (v?.count ?? 0) }
        var records = WriteBatch.Records(payload: payload, operations: keys.count, families: families)
        for i in bytewiseOrder(keys) {
            if let v = values[i] { records.put(keys[i], v) } else { records.delete(keys[i]) }
        }
        return WriteBatch(records)
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
///
/// Keys are sorted sixteen bytes at a time, as two big-endian integers, without touching the
/// key arrays: first by their first sixteen bytes, then each run that agrees on those by the
/// next sixteen, and so on. Idempotency keys share their first sixteen bytes by the thousand
/// (prefix, source, a department's id scheme: `\u{3}gongan\0gongan-s…`) and were compared
/// whole on every tie. Sorting a load's held index at its end is where that showed
/// (`Benchmarks/ab.sh`, the registry snapshot's import: a draft of the held index at CPU
/// 1.011 of the import without it, 0.937 with this sort); groups alone gained nothing
/// measurable (CPU 1.003).
public func bytewiseOrder(_ keys: [[UInt8]]) -> [Int] {
    var order: [SortKey] = []
    order.reserveCapacity(keys.count)
    for (i, k) in keys.enumerated() {
        order.append(SortKey(high: BytewiseOrder.word(k, 0), low: BytewiseOrder.word(k, 8), index: i))
    }
    sortByWords(&order, 0..<order.count, keys, offset: 0)
    return order.map(\.index)
}

/// Sorts `order[range]`, whose keys agree on their first `offset` bytes and whose words hold
/// their bytes `offset..<offset + 16`; then each run of equal words by the next sixteen
/// bytes. Keys equal but for trailing zero bytes (the words pad with zeros) go shorter first.
private func sortByWords(_ order: inout [SortKey], _ range: Range<Int>, _ keys: [[UInt8]], offset: Int) {
    order[range].sort { x, y in
        if x.high != y.high { return x.high < y.high }
        if x.low != y.low { return x.low < y.low }
        return x.index < y.index
    }
    var start = range.lowerBound
    while start < range.upperBound {
        var end = start + 1
        while end < range.upperBound, order[end].high == order[start].high, order[end].low == order[start].low { end += 1 }
        if end - start > 1 {
            let next = offset + 16
            if order[start..<end].contains(where: { keys[$0.index].count > next }) {
                for j in start..<end {
                    order[j].high = BytewiseOrder.word(keys[order[j].index], next)
                    order[j].low = BytewiseOrder.word(keys[order[j].index], next + 8)
                }
                sortByWords(&order, start..<end, keys, offset: next)
            } else {
                order[start..<end].sort { x, y in
                    let a = keys[x.index].count, b = keys[y.index].count
                    return a != b ? a < b : x.index < y.index
                }
            }
        }
        start = end
    }
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
