/// A Bloom filter that grows: it answers "never inserted" with certainty and "maybe
/// inserted" otherwise (false positives about 1 % of the time, never false negatives).
///
/// The writer keeps one of the idempotency keys and one of the golden records a store holds
/// (``KeyExistence``): a key the filter has never seen needs no lookup in RocksDB, where a
/// miss probes the memtable's filter and that of every level-0 file in turn (a load leaves a
/// dozen); batched, those lookups were still a sixth of the writer's serial stage in a perf
/// profile of a load, and 5.8 % of the bulk HTTP server's samples.
///
/// Blocked: each element sets and tests seven bits of one 512-bit block (a cache line), so a
/// test is one cache miss at most. When a filter holds its capacity, a new one of twice the
/// capacity takes the inserts; a test asks each filter (a few, since each doubles).
/// Hashes are seeded per process, as Swift's are: a filter is never stored.
struct MembershipFilter<Element: Hashable>: Sendable {
    private var filters: [Blocks] = []
    /// Elements inserted.
    private(set) var count = 0

    /// - Parameter capacity: elements the first filter holds at about 1 % false positives.
    init(capacity: Int = 1 << 16) {
        filters = [Blocks(capacity: max(64, capacity))]
    }

    /// Whether `element` may have been inserted (false: it certainly was not).
    func mayContain(_ element: Element) -> Bool {
        let h = UInt64(bitPattern: Int64(element.hashValue))
        for f in filters where f.test(h) { return true }
        return false
    }

    /// Inserts `element`, by its own hash (`hashValue`: a subject's is a keyed mix, not
    /// Hasher's rounds).
    mutating func insert(_ element: Element) { insert(hashValue: element.hashValue) }

    /// Inserts the element whose `hashValue` this is, for a caller that can work the hash
    /// out without making the element (a census of stored keys reads bytes).
    mutating func insert(hashValue: Int) {
        if let last = filters.last, last.count >= last.capacity { filters.append(Blocks(capacity: last.capacity * 2)) }
        filters[filters.count - 1].set(UInt64(bitPattern: Int64(hashValue)))
        count += 1
    }

    /// Makes this filter hold what `other` holds as well: `mayContain` is then true for
    /// every element inserted into either. New elements go into `other`'s last filter, or a
    /// larger one when that is full.
    mutating func formUnion(_ other: consuming MembershipFilter) {
        filters += other.filters
        count += other.count
    }

    /// One fixed-size blocked Bloom filter, 10 bits per element of its capacity.
    private struct Blocks {
        /// 512-bit blocks, eight words each.
        private var words: [UInt64]
        private let blockCount: UInt64
        let capacity: Int
        private(set) var count = 0

        init(capacity: Int) {
            self.capacity = capacity
            blockCount = UInt64(max(1, (capacity * 10 + 511) / 512))
            words = Array(repeating: 0, count: Int(blockCount) * 8)
        }

        /// The block of `h` (its high half, scaled to the block count), as a word offset.
        @inline(__always) private func block(_ h: UInt64) -> Int { Int(((h >> 32) &* blockCount) >> 32) * 8 }

        /// Seven bits of the block from the low half of `h`, remixed: nine bits of position
        /// each, taken from the top of `bits` and shifted out.
        @inline(__always) private static func mix(_ h: UInt64) -> UInt64 { (h & 0xFFFF_FFFF) &* 0x9E37_79B9_7F4A_7C15 }

        mutating func set(_ h: UInt64) {
            let base = block(h)
            var bits = Self.mix(h)
            for _ in 0..<7 {
                let bit = Int(bits >> 55)
                words[base + bit >> 6] |= 1 << UInt64(bit & 63)
                bits <<= 9
            }
            count += 1
        }

        func test(_ h: UInt64) -> Bool {
            let base = block(h)
            var bits = Self.mix(h)
            for _ in 0..<7 {
                let bit = Int(bits >> 55)
                if words[base + bit >> 6] & (1 << UInt64(bit & 63)) == 0 { return false }
                bits <<= 9
            }
            return true
        }
    }
}
