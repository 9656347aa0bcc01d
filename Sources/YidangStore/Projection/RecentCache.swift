/// A cache of recently used values that forgets gradually: entries live in a young and an
/// old generation; when the young one is full it becomes the old one and the previous old
/// one is retired. A value found in the old generation moves back to the young one, so
/// what is in use survives a rotation, and nothing is ever dropped all at once.
///
/// Retired values are freed a few at a time by ``freeRetired(atLeast:)``: freeing tens of
/// thousands of golden-record states at once takes long enough to stall the writer (and
/// with it every publisher waiting for a commit); freed on another thread they contend for
/// the allocator. Each call frees at least twice what was inserted since the last one, so
/// the retired values are gone before the next rotation and memory stays bounded. A writer
/// with idle time frees them then (``freeRetired(atMost:)``) and, as it goes, only those
/// that would otherwise outlast the next rotation (``freeRetiredDue()``). A
/// retired generation is kept as it was, its entries taken out one by one as they are
/// freed: copying its values out at the rotation (a retain and a release of every field of
/// every record) stalled the writer at each rotation too (20–30 ms for 25,000 records, every
/// 5 s at 5,000 new subjects a second, in perf samples of the SSE benchmark).
///
/// With `keepsLeaving`, a rotation does not retire the old generation at once: it becomes
/// the leaving one, still found by lookups, and is retired at the next rotation. A replay
/// that writes records as they leave the cache then need not wait for those writes before
/// rotating — only, at the next rotation, for the writes of the rotation before.
struct RecentCache<Key: Hashable, Value> {
    private var young: [Key: Value] = [:]
    private var old: [Key: Value] = [:]
    private var leaving: [Key: Value] = [:]
    /// Retired generations, oldest first, each with its keys as it was retired: the first is
    /// emptied key by key from the end of that list. (Emptied by `popFirst`, which looks for
    /// a table's first entry from the table's start every time, a generation took time
    /// growing with the square of its size: 0.8 % of the server's samples under a bulk load,
    /// all in that search, perf.)
    private var retired: [(table: [Key: Value], keys: [Key])] = []
    /// Values stored since the last ``freeRetired(atLeast:)``.
    private var insertions = 0
    /// Entries per generation; at most twice as many are held (three times keeping leaving).
    private(set) var generationSize: Int

    /// Whether a rotation keeps the old generation as the leaving one (see above).
    let keepsLeaving: Bool

    init(generationSize: Int, keepsLeaving: Bool = false) {
        self.generationSize = max(1, generationSize)
        self.keepsLeaving = keepsLeaving
        // Room for a generation at once, as after every rotation: growing by doubling rehashed
        // and moved every value a dozen times during the first generation.
        young.reserveCapacity(self.generationSize)
    }

    var count: Int { young.count + old.count + leaving.count }

    /// Makes every generation from the young one on hold up to `size` entries (never fewer
    /// than now): the cache grows by as much, and nothing leaves it meanwhile.
    mutating func grow(toGenerationSize size: Int) {
        guard size > generationSize else { return }
        generationSize = size
        young.reserveCapacity(size)
    }

    /// Makes generations from the young one on hold up to `size` entries, fewer or more than
    /// now: a young generation already past it is full, and the next rotations let the
    /// surplus go.
    mutating func resize(toGenerationSize size: Int) {
        if size > generationSize { grow(toGenerationSize: size) } else { generationSize = max(1, size) }
    }

    /// Whether the next ``rotateIfFull()`` will rotate.
    var isFull: Bool { young.count >= generationSize }

    subscript(key: Key) -> Value? {
        get { young[key] ?? old[key] ?? leaving[key] }
        set {
            if let newValue {
                if young.updateValue(newValue, forKey: key) == nil { insertions += 1 }
            } else {
                young.removeValue(forKey: key)
                old.removeValue(forKey: key)
                leaving.removeValue(forKey: key)
            }
        }
    }

    /// Whether `key` is cached (in any generation).
    func contains(_ key: Key) -> Bool {
        young.index(forKey: key) != nil || old.index(forKey: key) != nil || leaving.index(forKey: key) != nil
    }

    /// Calls `body` with the value at `key` to change in place, loading it with `load` when
    /// it is not cached; a value found in an older generation moves to the young one. A value
    /// in the young generation costs one hash lookup. Whatever `body` leaves is kept, also
    /// when it throws.
    mutating func update<R>(_ key: Key, load: () throws -> Value, _ body: (inout Value) throws -> R) throws -> R {
        if let i = young.index(forKey: key) { return try body(&young.values[i]) }
        var value = try old.removeValue(forKey: key) ?? leaving.removeValue(forKey: key) ?? load()
        // Moved into the young generation, not copied: stored from a `defer`, the value was
        // copied (a retain of each of its arrays and boxes) and the local then destroyed, for
        // every record loaded or new (every event of a bulk sync of new people).
        let result = Result { try body(&value) }
        young[key] = consume value
        insertions += 1
        return try result.get()
    }

    /// Makes the young generation the old one when it is full, retiring the previous old one
    /// (keeping leaving: the previous leaving one, the old one becoming leaving).
    mutating func rotateIfFull() {
        guard isFull else { return }
        if keepsLeaving {
            if !leaving.isEmpty { retire(leaving) }
            leaving = old
        } else if !old.isEmpty {
            retire(old)
        }
        old = young
        young = [:]
        young.reserveCapacity(generationSize)
    }

    /// Keeps `generation` to be freed by ``freeRetired(atLeast:)``.
    private mutating func retire(_ generation: [Key: Value]) {
        retired.append((generation, Array(generation.keys)))
    }

    /// Calls `body` with each value the next rotation moves out of the old generation — to
    /// retire it, or to make it leaving (none unless ``isFull``).
    func forEachRetiring(_ body: (Value) throws -> Void) rethrows {
        guard isFull else { return }
        // Lent where they lie: iterating copies each value, retaining everything in it.
        for i in old.values.indices { try body(old.values[i]) }
    }

    /// Calls `body` with the value at `key` to change where it lies (in any generation: it is
    /// not moved to the young one), if cached; returns what `body` returns.
    mutating func modifyIfPresent<R>(_ key: Key, _ body: (inout Value) throws -> R) rethrows -> R? {
        if let i = young.index(forKey: key) { return try body(&young.values[i]) }
        if let i = old.index(forKey: key) { return try body(&old.values[i]) }
        if let i = leaving.index(forKey: key) { return try body(&leaving.values[i]) }
        return nil
    }

    /// Calls `body` with each value of the young and old generations (not the leaving one),
    /// in no particular order.
    func forEachCurrent(_ body: (Value) throws -> Void) rethrows {
        for i in young.values.indices { try body(young.values[i]) }
        for i in old.values.indices { try body(old.values[i]) }
    }

    /// Calls `body` with each value of the young and old generations (not the leaving one)
    /// to change where it lies, in no particular order.
    mutating func modifyEachCurrent(_ body: (inout Value) throws -> Void) rethrows {
        try Self.modifyEach(in: &young, body)
        try Self.modifyEach(in: &old, body)
    }

    /// Calls `body` with each value of every generation to change where it lies, in no
    /// particular order.
    mutating func modifyEach(_ body: (inout Value) throws -> Void) rethrows {
        try Self.modifyEach(in: &young, body)
        try Self.modifyEach(in: &old, body)
        try Self.modifyEach(in: &leaving, body)
    }

    /// Changes each value of `generation` where it lies. Not `for i in values.indices`: that
    /// sequence holds a reference to the dictionary's storage, so the first change copied the
    /// generation's table (every record in it retained) before writing to it —
    /// at the end of every bulk load (perf of the registry snapshot's import).
    private static func modifyEach(in generation: inout [Key: Value], _ body: (inout Value) throws -> Void) rethrows {
        var i = generation.values.startIndex
        while i != generation.values.endIndex {
            try body(&generation.values[i])
            generation.values.formIndex(after: &i)
        }
    }

    /// Retired values waiting to be freed.
    var retiredCount: Int { retired.reduce(0) { $0 + $1.table.count } }

    /// Frees `minimum` retired values, or twice the number inserted since the last call if
    /// that is more (while any are left).
    mutating func freeRetired(atLeast minimum: Int) {
        free(max(minimum, 2 * insertions))
        insertions = 0
    }

    /// Frees only the retired values that could not otherwise be gone before the next
    /// rotation: those beyond twice the room left in the young generation. Right after a
    /// rotation that is none; as the young generation fills, at most two per value stored
    /// since, as ``freeRetired(atLeast:)`` frees. A writer with idle time frees the rest
    /// then (``freeRetired(atMost:)``), off the path its callers wait on.
    mutating func freeRetiredDue() {
        let room = max(0, generationSize - young.count)
        let excess = retiredCount - 2 * room
        if excess > 0 { free(excess) }
        insertions = 0
    }

    /// Frees up to `n` retired values; returns whether any are left.
    mutating func freeRetired(atMost n: Int) -> Bool {
        free(n)
        return !retired.isEmpty
    }

    /// Frees `count` retired values (fewer if fewer are left), oldest generation first.
    private mutating func free(_ count: Int) {
        var n = count
        while n > 0, !retired.isEmpty {
            if retired[0].table.count <= n {
                n -= retired[0].table.count
                retired.removeFirst()
            } else {
                for _ in 0..<n {
                    guard let key = retired[0].keys.popLast() else { break }
                    retired[0].table.removeValue(forKey: key)
                }
                n = 0
            }
        }
    }

    /// Empties the cache, which keeps room for a generation (see `init`): the writer empties
    /// its caches as it opens, and a first generation grown by doubling moved every record
    /// twice in its last steps (a 30–40 ms stall at 25,000 records, perf samples of the SSE
    /// benchmark).
    mutating func removeAll() {
        young = [:]
        young.reserveCapacity(generationSize)
        old = [:]
        leaving = [:]
        retired = []
        insertions = 0
    }
}
