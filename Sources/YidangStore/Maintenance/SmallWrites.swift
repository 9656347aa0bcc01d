import RocksDB

/// A replay's small writes (links, the open-conflict index, counters) in the order they were
/// made, kept in one flat buffer until the end, when ``forEachLatest(_:)`` visits the last
/// write of each key in bytewise key order.
///
/// Tens of thousands of keys: kept in a dictionary of arrays, each was hashed when written,
/// and sorting them at the end compared arrays (retaining both for every comparison) where
/// their first sixteen bytes tied, which link keys of persons born in one place on one day
/// do. Here a key costs an append, and ties are settled by `memcmp` in the buffer.
struct SmallWrites {
    /// Keys and values, one after another.
    private var bytes: [UInt8] = []
    private var entries: [Entry] = []

    private struct Entry {
        /// The key's first sixteen bytes as two big-endian integers, zero-padded.
        var high: UInt64
        var low: UInt64
        /// Where the key starts in `bytes` (ascending in the order of the writes), its length,
        /// and its value's length (after the key); -1: a delete.
        var start: Int
        var keyCount: Int32
        var valueCount: Int32
    }

    var count: Int { entries.count }
    var isEmpty: Bool { entries.isEmpty }

    /// Keeps a put of `value` at `key`, or a delete when `value` is nil; a later write of the
    /// same key replaces it.
    mutating func append(_ key: [UInt8], _ value: [UInt8]?) {
        let start = bytes.count
        bytes.append(contentsOf: key)
        if let value { bytes.append(contentsOf: value) }
        entries.append(Entry(high: BytewiseOrder.word(key, 0), low: BytewiseOrder.word(key, 8), start: start,
                             keyCount: Int32(key.count), valueCount: value.map { Int32($0.count) } ?? -1))
    }

    /// Calls `body` with the key and value of each key's last write that is a put (a key
    /// whose last write is a delete is skipped), in bytewise key order.
    func forEachLatest(_ body: (_ key: UnsafeBufferPointer<UInt8>, _ value: UnsafeBufferPointer<UInt8>) throws -> Void) rethrows {
        try bytes.withUnsafeBufferPointer { all in
            func key(_ e: Entry) -> UnsafeBufferPointer<UInt8> {
                UnsafeBufferPointer(rebasing: all[e.start..<(e.start + Int(e.keyCount))])
            }
            // Key order, and the writes of one key in the order they were made.
            let sorted = entries.sorted { x, y in
                if x.high != y.high { return x.high < y.high }
                if x.low != y.low { return x.low < y.low }
                let c = BytewiseOrder.compare(key(x), key(y))
                return c != 0 ? c < 0 : x.start < y.start
            }
            for i in sorted.indices {
                let e = sorted[i]
                // A later write of the same key follows: this one is replaced.
                if i + 1 < sorted.count, Self.sameKey(e, sorted[i + 1], key) { continue }
                guard e.valueCount >= 0 else { continue }
                let valueStart = e.start + Int(e.keyCount)
                try body(key(e), UnsafeBufferPointer(rebasing: all[valueStart..<(valueStart + Int(e.valueCount))]))
            }
        }
    }

    private static func sameKey(_ a: Entry, _ b: Entry, _ key: (Entry) -> UnsafeBufferPointer<UInt8>) -> Bool {
        a.high == b.high && a.low == b.low && a.keyCount == b.keyCount && BytewiseOrder.compare(key(a), key(b)) == 0
    }
}
