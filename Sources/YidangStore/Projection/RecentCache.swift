/// A cache of recently used values that forgets gradually: entries live in a young and an
/// old generation; when the young one is full it becomes the old one and the previous old
/// one is retired. A value found in the old generation moves back to the young one, so
/// what is in use survives a rotation, and nothing is ever dropped all at once.
///
/// Retired values are freed a few at a time by ``freeSome(_:)``: freeing tens of thousands
/// of golden-record states at once takes long enough to stall the writer (and with it every
/// publisher waiting for a commit); freed on another thread they contend for the allocator.
struct RecentCache<Key: Hashable, Value> {
    private var young: [Key: Value] = [:]
    private var old: [Key: Value] = [:]
    private var retired: [Value] = []
    /// Entries per generation; at most twice as many are held.
    let generationSize: Int

    init(generationSize: Int) { self.generationSize = max(1, generationSize) }

    var count: Int { young.count + old.count }

    /// Whether the next ``rotateIfFull()`` will rotate.
    var isFull: Bool { young.count >= generationSize }

    subscript(key: Key) -> Value? {
        get { young[key] ?? old[key] }
        set {
            young[key] = newValue
            if newValue == nil { old.removeValue(forKey: key) }
        }
    }

    /// Removes and returns the value, so a caller can mutate a uniquely held copy.
    mutating func take(_ key: Key) -> Value? {
        young.removeValue(forKey: key) ?? old.removeValue(forKey: key)
    }

    /// Makes the young generation the old one when it is full, retiring the previous old one.
    mutating func rotateIfFull() {
        guard isFull else { return }
        retired.append(contentsOf: old.values)
        old = young
        young = [:]
        young.reserveCapacity(generationSize)
    }

    /// Frees at most `n` retired values.
    mutating func freeSome(_ n: Int) {
        retired.removeLast(min(n, retired.count))
        if retired.isEmpty && retired.capacity > 0 { retired = [] }
    }

    mutating func removeAll() {
        young = [:]
        old = [:]
        retired = []
    }
}
