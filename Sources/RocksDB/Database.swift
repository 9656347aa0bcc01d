import CRocksDB
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A reader-writer lock: operations share it, `close()` takes it alone.
final class ReadWriteLock: @unchecked Sendable {
    private let lock = UnsafeMutablePointer<pthread_rwlock_t>.allocate(capacity: 1)
    init() { pthread_rwlock_init(lock, nil) }
    deinit { pthread_rwlock_destroy(lock); lock.deallocate() }
    func withReadLock<T>(_ body: () throws -> T) rethrows -> T {
        pthread_rwlock_rdlock(lock); defer { pthread_rwlock_unlock(lock) }
        return try body()
    }
    func withWriteLock<T>(_ body: () throws -> T) rethrows -> T {
        pthread_rwlock_wrlock(lock); defer { pthread_rwlock_unlock(lock) }
        return try body()
    }
}

/// Tuning knobs for opening a database. Defaults suit an append-heavy event store.
public struct DatabaseOptions: Sendable {
    public var createIfMissing = true
    /// Background threads for flushes and compactions.
    public var parallelism: Int32 = 2
    public var writeBufferSize: Int = 64 << 20
    public var bloomBitsPerKey: Double = 10
    /// Bytes of keys and values per table-file data block, before compression. RocksDB's
    /// 4 KiB default cost an import a fresh 16 KiB LZ4 stream state, zeroed, per block.
    public var blockSize: Int = 16 << 10
    /// Old info logs (`LOG.old.*`) kept beside the current one. Every open starts a new info
    /// log, and each CLI command opens the store: RocksDB's default of 1000 fills the
    /// directory with one file per command.
    public var infoLogsKept: Int = 10
    public var blockCacheBytes: Int = 128 << 20
    /// Level-0 files that start a compaction into level 1 (RocksDB's default is four).
    ///
    /// Each memtable flush of a serving store holds keys from the whole key space (golden
    /// records and index keys land at random places), so every compaction from level 0
    /// rewrites all of level 1, which grows with the store until level 1 is full. Merging
    /// eight flushes at a time instead of four rewrites level 1 half as often for the same
    /// writes. Bulk HTTP loads of new people (2 connections, fresh servers, hand runs): the
    /// server's CPU per event 22.2–22.5 µs against 23.7–24.2 over 15 s, 23.5–23.9 against
    /// 26.5–28.0 over 30 s, 28.2 against 32.0 over 60 s (its compactions' CPU 28.8 s against
    /// 36.3). Reads check up to twice as many level-0 files, each skipped by its Bloom filter
    /// unless it holds the key; writes still slow down at twenty files.
    ///
    /// Level 1's target size follows it, as RocksDB's tuning guide sizes it: what level 0 holds
    /// when it is merged (this times ``writeBufferSize``, 512 MiB; RocksDB's default is 256).
    /// Over 60 s of the same load, three interleaved pairs: compactions' CPU 25.0–25.4 s
    /// against 27.5–27.8, the server's CPU per event 28.2–28.6 µs against 28.6–29.8.
    public var levelZeroCompactionTrigger: Int32 = 8
    /// The size at which a compaction cuts its output files (RocksDB's default, 64 MiB).
    /// RocksDB splits a compaction from level 0 into parts of at least this size, so it
    /// also bounds how finely that compaction is shared among threads
    /// (``Database/setTargetFileSize(_:)`` changes it on an open store).
    public var targetFileSize: UInt64 = 64 << 20
    /// The most parts one compaction is cut in, each on a thread of its own, when
    /// `parallelism` is above one. RocksDB cuts parts by bytes, so a merge of many small
    /// index keys beside large records needs more parts than cores for its small keys to
    /// be shared out (a bulk load's closing merge); RocksDB 7.8 also drops a lone split
    /// point, so fewer than three never split (facebook/rocksdb#11476).
    public var maxSubcompactions: UInt32 = 12
    /// Compression of the table files below level 0.
    public var compression: Compression = .lz4
    /// Whether level-0 files (memtable flushes) are compressed too. RocksDB's
    /// tuning advice leaves them plain: they are short-lived, merged into level 1 soon, and
    /// compressing them costs a flush (and a bulk load) CPU that the writer needs.
    public var compressLevel0 = false
    public enum Compression: Int32, Sendable { case none = 0, snappy = 1, zlib = 2, lz4 = 4, zstd = 7 }
    /// Whether RocksDB merges table files in the background on its own. Off for a bulk load
    /// (a rebuild), which would otherwise start by compacting what the last import left in
    /// level 0 while it needs both cores, and for a process that only reads or a store about
    /// to be deleted; ``Database/setAutoCompactions(_:)`` changes it.
    public var autoCompactions = true
    /// Opens the database as a secondary instance of a primary that another process holds,
    /// keeping the secondary's own files (its info log) in this directory: reads see what
    /// the primary had synced when it opened (``Database/catchUpWithPrimary()`` moves it on);
    /// every write fails. Without it an open of a held directory fails on its LOCK file.
    public var secondaryPath: String?
    /// Keys that start with this byte are grouped by their bytes up to the first 0 after the
    /// second byte (a tag, a kind, a name, 0, then what the group lists): table files keep a
    /// Bloom filter of those groups, so a seek to a group skips every file and level that
    /// does not hold it instead of reading a block from each. A seek that targets such a
    /// group must not iterate past it; seeks to other keys are unaffected.
    public var separatedPrefixes: UInt8?
    /// The column families keys are kept in, by their tags (``KeyFamilies``). A store opened
    /// with families it lacks gets them, and keys of their tags that its default family
    /// holds are moved into them. A secondary instance opens the families its primary has.
    public var keyFamilies: KeyFamilies = .single
    /// Memtable bytes of each appended family (``keyFamilies``), before it is flushed. Their
    /// keys are a part of what the store writes, and each family fills a memtable of its own.
    public var appendedWriteBufferSize: Int = 32 << 20
    public init() {}
}

/// RocksDB's prefix extractor for ``DatabaseOptions/separatedPrefixes``: C callbacks that
/// read the tag byte from their state pointer and answer without allocating.
private enum SeparatedPrefix {
    static func end(_ key: UnsafePointer<CChar>?, _ length: Int, tag: UInt8) -> Int? {
        guard let key, length >= 3 else { return nil }
        return key.withMemoryRebound(to: UInt8.self, capacity: length) { k -> Int? in
            guard k[0] == tag else { return nil }
            for i in 2..<length where k[i] == 0 { return i + 1 }
            return nil
        }
    }
    static func tagOf(_ state: UnsafeMutableRawPointer?) -> UInt8 { UInt8(truncatingIfNeeded: Int(bitPattern: state) - 1) }
    static let name: StaticString = "yidang.separated-prefix.1"

    static func make(_ tag: UInt8) -> OpaquePointer {
        allocated(rocksdb_slicetransform_create(
            UnsafeMutableRawPointer(bitPattern: Int(tag) + 1),
            { _ in },
            { state, key, length, out in
                out?.pointee = SeparatedPrefix.end(key, length, tag: SeparatedPrefix.tagOf(state)) ?? length
                return UnsafeMutablePointer(mutating: key)
            },
            { state, key, length in SeparatedPrefix.end(key, length, tag: SeparatedPrefix.tagOf(state)) == nil ? 0 : 1 },
            { _, _, _ in 0 },
            { _ in UnsafeRawPointer(SeparatedPrefix.name.utf8Start).assumingMemoryBound(to: CChar.self) }),
            "prefix extractor")
    }
}

/// An open RocksDB database.
///
/// Thread-safe (RocksDB's `DB` is). All pointer and lifetime handling for RocksDB lives in
/// this module: C error strings are copied and freed with `rocksdb_free`, iterators are
/// scoped to a closure so they are always destroyed before the database closes, and the
/// upper-bound buffer of an iterator outlives the iterator. The database is closed when
/// the last reference goes away, or earlier by ``close()``.
public final class Database: @unchecked Sendable {
    private let lock = ReadWriteLock()
    private var handle: OpaquePointer?
    /// The handle of each family of ``families``, by its number (empty once closed).
    private(set) var familyHandles: [OpaquePointer] = []
    /// Handles of families the store holds that ``families`` does not name: opened, since
    /// RocksDB opens every family of a store, and never read or written.
    private var otherHandles: [OpaquePointer] = []
    /// The column families the store's keys are kept in.
    public let families: KeyFamilies
    let options: OpaquePointer
    /// The options of the appended families: compressed from level 0 (their flushes are
    /// never rewritten), no filters (every lookup of a log position finds it).
    private let appendedOptions: OpaquePointer
    private let tableOptions: OpaquePointer
    /// The table format without a filter, for table files that point lookups only ever find
    /// (``sortedFileWriter(path:compressed:filtered:)``).
    let unfilteredTableOptions: OpaquePointer
    private let cache: OpaquePointer
    private let syncWrite: OpaquePointer
    private let asyncWrite: OpaquePointer
    private let unloggedWrite: OpaquePointer
    private let readOptions: OpaquePointer
    public let path: String
    /// Where a secondary instance keeps its own files, or nil for the primary.
    public let secondaryPath: String?
    public var isSecondary: Bool { secondaryPath != nil }
    /// How table files below level 0 are compressed (a RocksDB compression type).
    let compression: Int32
    /// Whether automatic compactions are on: as opened, then as last set.
    private let compacting: Mutex<Bool>

    /// The length of the key prefixes memtable insert hints are kept for; keys shorter than
    /// this are inserted without one.
    public static let insertHintPrefixBytes = 2

    /// Opens (creating when allowed) the database at `path`.
    /// - Throws: ``RocksDBError`` when RocksDB refuses (lock held by another process, corruption…).
    public init(path: String, options opts: DatabaseOptions = DatabaseOptions()) throws {
        self.path = path
        self.secondaryPath = opts.secondaryPath
        compression = opts.compression.rawValue
        _ = Database.backgroundPoolsLowered
        let options = allocated(rocksdb_options_create(), "options")
        // Each memtable insert starts from where the last key with the same first two bytes
        // went, when that brackets it: keys under one tag that arrive in order (log and change
        // positions, whose second byte stays 0) go in beside the last one instead of down the
        // whole skiplist (RocksDB alone with the hub's bulk writes, hand runs: 5.6–6.0 µs of
        // CPU an event against 6.8–7.4).
        // Only an option string sets it (RocksDB's C API has no setter for it). Range
        // deletions must start below the prefix length (``WriteBatch/deleteRange(from:to:)``).
        do {
            let defaults = allocated(rocksdb_options_create(), "options")
            defer { rocksdb_options_destroy(defaults) }
            var err: UnsafeMutablePointer<CChar>? = nil
            rocksdb_get_options_from_string(defaults, "memtable_insert_with_hint_prefix_extractor=rocksdb.FixedPrefix.\(Self.insertHintPrefixBytes)",
                                            options, &err)
            if let message = Database.take(err) {
                rocksdb_options_destroy(options)
                throw RocksDBError(operation: "options", message: message)
            }
        }
        rocksdb_options_set_create_if_missing(options, opts.createIfMissing ? 1 : 0)
        rocksdb_options_increase_parallelism(options, opts.parallelism)
        rocksdb_options_set_write_buffer_size(options, opts.writeBufferSize)
        rocksdb_options_set_keep_log_file_num(options, opts.infoLogsKept)
        rocksdb_options_set_compression(options, opts.compression.rawValue)
        var levels = [Int32](repeating: opts.compression.rawValue, count: Int(rocksdb_options_get_num_levels(options)))
        if !opts.compressLevel0, !levels.isEmpty { levels[0] = DatabaseOptions.Compression.none.rawValue }
        levels.withUnsafeBufferPointer { rocksdb_options_set_compression_per_level(options, $0.baseAddress, $0.count) }
        rocksdb_options_set_disable_auto_compactions(options, opts.autoCompactions ? 0 : 1)
        rocksdb_options_set_max_background_jobs(options, max(2, opts.parallelism))
        // A compaction from level 0 (what a bulk load leaves) splits across the cores.
        rocksdb_options_set_max_subcompactions(options, opts.parallelism > 1 ? opts.maxSubcompactions : 1)
        rocksdb_options_set_target_file_size_base(options, opts.targetFileSize)
        rocksdb_options_set_level0_file_num_compaction_trigger(options, opts.levelZeroCompactionTrigger)
        rocksdb_options_set_max_bytes_for_level_base(options, UInt64(opts.writeBufferSize) * UInt64(opts.levelZeroCompactionTrigger))
        if let tag = opts.separatedPrefixes { rocksdb_options_set_prefix_extractor(options, SeparatedPrefix.make(tag)) }
        // A bloom filter over memtable keys makes point lookups that miss (the idempotency
        // check of every new event) skip the skiplist search.
        rocksdb_options_set_memtable_prefix_bloom_size_ratio(options, 0.1)
        rocksdb_options_set_memtable_whole_key_filtering(options, 1)
        let cache = allocated(rocksdb_cache_create_lru(opts.blockCacheBytes), "block cache")
        let table = Self.tableOptions(opts, cache: cache, filtered: true)
        let unfiltered = Self.tableOptions(opts, cache: cache, filtered: false)
        rocksdb_options_set_block_based_table_factory(options, table)
        if opts.secondaryPath != nil { rocksdb_options_set_max_open_files(options, -1) }   // required of a secondary
        let appended = allocated(rocksdb_options_create_copy(options), "options")
        rocksdb_options_set_write_buffer_size(appended, opts.appendedWriteBufferSize)
        let compressed = [Int32](repeating: opts.compression.rawValue, count: Int(rocksdb_options_get_num_levels(appended)))
        compressed.withUnsafeBufferPointer { rocksdb_options_set_compression_per_level(appended, $0.baseAddress, $0.count) }
        rocksdb_options_set_memtable_prefix_bloom_size_ratio(appended, 0)
        rocksdb_options_set_memtable_whole_key_filtering(appended, 0)
        rocksdb_options_set_block_based_table_factory(appended, unfiltered)
        let release = {
            rocksdb_options_destroy(options)
            rocksdb_options_destroy(appended)
            rocksdb_block_based_options_destroy(table)
            rocksdb_block_based_options_destroy(unfiltered)
            rocksdb_cache_destroy(cache)
        }
        // RocksDB opens a store by all of its families: those it holds now, by name.
        var held = ["default"]
        var err: UnsafeMutablePointer<CChar>? = nil
        var listed = 0
        if let list = rocksdb_list_column_families(options, path, &listed, &err) {
            // A store not created yet lists none (and an error).
            if listed > 0 { held = (0..<listed).map { list[$0].map { String(cString: $0) } ?? "" } }
            rocksdb_list_column_families_destroy(list, listed)
        }
        // Any failure to list but a missing store is the open's too, and reported by it.
        _ = Database.take(err)
        err = nil
        let wanted = opts.keyFamilies
        var families = wanted
        if opts.secondaryPath != nil {
            // A secondary cannot create families: it reads the primary's layout, the wanted
            // families the store holds. A primary that opened the store with fewer appended
            // tags (an older layout, or none) still keeps the other tags' keys in its default
            // family, which is where this reader then looks for them.
            families = KeyFamilies(appendedTags: wanted.appendedTags.indices
                .filter { held.contains(wanted.name($0 + 1)) }.map { wanted.appendedTags[$0] })
        }
        var opened = [OpaquePointer?](repeating: nil, count: held.count)
        let db: OpaquePointer? = Self.withCStrings(held) { cNames in
            var familyOptions: [OpaquePointer?] = held.map { $0.hasPrefix("appended-") ? appended : options }
            var list = cNames
            if let secondary = opts.secondaryPath {
                return rocksdb_open_as_secondary_column_families(options, path, secondary, Int32(held.count), &list, &familyOptions, &opened, &err)
            }
            return rocksdb_open_column_families(options, path, Int32(held.count), &list, &familyOptions, &opened, &err)
        }
        if let message = Database.take(err) {
            release()
            throw RocksDBError(operation: "open \(path)", message: message)
        }
        self.handle = db
        self.options = options
        self.appendedOptions = appended
        self.tableOptions = table
        self.unfilteredTableOptions = unfiltered
        self.cache = cache
        self.syncWrite = allocated(rocksdb_writeoptions_create(), "write options")
        rocksdb_writeoptions_set_sync(syncWrite, 1)
        self.asyncWrite = allocated(rocksdb_writeoptions_create(), "write options")
        self.unloggedWrite = allocated(rocksdb_writeoptions_create(), "write options")
        rocksdb_writeoptions_disable_WAL(unloggedWrite, 1)
        self.readOptions = allocated(rocksdb_readoptions_create(), "read options")
        self.compacting = Mutex(opts.autoCompactions)
        self.families = families
        // From here on `close()` (run by deinit) releases what is open.
        var handles: [OpaquePointer] = []
        for name in (0..<families.count).map(families.name) {
            if let i = held.firstIndex(of: name), let h = opened[i] {
                handles.append(h)
                opened[i] = nil
                continue
            }
            let made = rocksdb_create_column_family(db, appended, name, &err)
            if let message = Database.take(err) {
                familyHandles = handles; otherHandles = opened.compactMap { $0 }
                close()
                throw RocksDBError(operation: "create column family \(name) in \(path)", message: message)
            }
            handles.append(allocated(made, "column family"))
        }
        familyHandles = handles
        otherHandles = opened.compactMap { $0 }
        // Batches name a family by its id, which RocksDB numbers in the order of creation: the
        // layout's order, for a store whose families this code made.
        for (n, h) in handles.enumerated() where Int(rocksdb_column_family_handle_get_id(h)) != n {
            close()
            throw RocksDBError(operation: "open \(path)", message: "column family \(families.name(n)) has id \(rocksdb_column_family_handle_get_id(h)), not \(n)")
        }
        if opts.secondaryPath == nil {
            do { try moveAppendedKeys() } catch { close(); throw error }
        }
    }

    /// Moves the keys of each appended tag that the default family holds (a store written
    /// before it had the family) into the tag's family. Each move copies the keys, then
    /// deletes them from the default family in one synced write: a crash before that write
    /// leaves every key where it was, and the next open moves them again.
    /// - Throws: ``RocksDBError`` for a failed read or write.
    private func moveAppendedKeys() throws {
        for family in 1..<max(1, families.count) {
            let tag = families.appendedTags[family - 1]
            var records = WriteBatch.Records(payload: 1 << 20, operations: 4096, families: families)
            var moved = 0
            try withIterator(family: 0, from: [tag], to: [tag + 1]) { it in
                rocksdb_iter_seek_to_first(it)
                while rocksdb_iter_valid(it) != 0 {
                    var klen = 0, vlen = 0
                    guard let k = rocksdb_iter_key(it, &klen) else { break }
                    let v = rocksdb_iter_value(it, &vlen)
                    records.put(Database.copy(k, klen), v.map { Database.copy($0, vlen) } ?? [], family: family)
                    moved += 1
                    if records.count >= 4096 {
                        try write(WriteBatch(records), sync: false)
                        records = WriteBatch.Records(payload: 1 << 20, operations: 4096, families: families)
                    }
                    rocksdb_iter_next(it)
                }
            }
            guard moved > 0 else { continue }
            records.deleteRange(from: [tag], to: [tag + 1], family: 0)
            try write(WriteBatch(records), sync: true)
        }
    }

    /// Runs `body` with C strings of `strings`, valid for the call.
    static func withCStrings<R>(_ strings: [String], _ body: ([UnsafePointer<CChar>?]) throws -> R) rethrows -> R {
        let copies = strings.map { allocated(strdup($0), "string") }
        defer { for c in copies { free(c) } }
        return try body(copies.map { UnsafePointer($0) })
    }

    /// The table format of `opts`, with or without its Bloom filter: one place, so that a
    /// table file written without a filter differs from the others in nothing else.
    private static func tableOptions(_ opts: DatabaseOptions, cache: OpaquePointer, filtered: Bool) -> OpaquePointer {
        let table = allocated(rocksdb_block_based_options_create(), "table options")
        rocksdb_block_based_options_set_block_cache(table, cache)
        rocksdb_block_based_options_set_block_size(table, opts.blockSize)
        if filtered { rocksdb_block_based_options_set_filter_policy(table, rocksdb_filterpolicy_create_bloom(opts.bloomBitsPerKey)) }
        // Index and filter blocks stay in table-reader memory rather than the block cache: a
        // full filter of a large SST can exceed a cache shard, and was then read back from
        // disk (and checksummed) on every point lookup — 87 % of import time at 10⁶ events.
        rocksdb_block_based_options_set_cache_index_and_filter_blocks(table, 0)
        return table
    }

    deinit {
        close()
        rocksdb_writeoptions_destroy(syncWrite)
        rocksdb_writeoptions_destroy(asyncWrite)
        rocksdb_writeoptions_destroy(unloggedWrite)
        rocksdb_readoptions_destroy(readOptions)
        rocksdb_options_destroy(options)
        rocksdb_options_destroy(appendedOptions)
        rocksdb_block_based_options_destroy(tableOptions)
        rocksdb_block_based_options_destroy(unfilteredTableOptions)
        rocksdb_cache_destroy(cache)
    }

    /// Closes the database. Later calls throw ``RocksDBError`` ("closed"). Idempotent.
    public func close() {
        lock.withWriteLock {
            for family in familyHandles + otherHandles { rocksdb_column_family_handle_destroy(family) }
            familyHandles = []
            otherHandles = []
            if let open = handle { rocksdb_close(open) }
            handle = nil
        }
    }

    /// Runs `body` with the open handle; the lock keeps `close()` from racing an operation.
    ///
    /// RocksDB's per-thread perf counters are switched off first (they are on by default, and
    /// each count is a thread-local lookup in the shared library: about a twentieth of a bulk
    /// import's cycles went to them, most from comparing keys in the memtable). The setting is
    /// per thread, and operations run on whatever thread calls them.
    func withHandle<T>(_ operation: String, _ body: (OpaquePointer) throws -> T) throws -> T {
        try lock.withReadLock {
            guard let open = handle else { throw RocksDBError(operation: operation, message: "database is closed") }
            rocksdb_set_perf_level(Self.perfCountersOff)
            return try body(open)
        }
    }

    /// Runs `body` with the open handle and the handle of `family`.
    func withFamily<T>(_ operation: String, _ family: Int, _ body: (OpaquePointer, OpaquePointer) throws -> T) throws -> T {
        try withHandle(operation) { db in
            guard family < familyHandles.count else { throw RocksDBError(operation: operation, message: "database is closed") }
            return try body(db, familyHandles[family])
        }
    }

    /// `rocksdb::PerfLevel::kDisable`.
    static let perfCountersOff: Int32 = 1

    /// Copies a RocksDB error string into a Swift string and frees it.
    static func take(_ err: UnsafeMutablePointer<CChar>?) -> String? {
        guard let err else { return nil }
        defer { rocksdb_free(err) }
        return String(cString: err)
    }

    // MARK: Point operations

    /// The value stored under `key`, or nil.
    public func get(_ key: [UInt8]) throws -> [UInt8]? {
        try withFamily("get", families.family(of: key)) { db, family in
            var length = 0
            var err: UnsafeMutablePointer<CChar>? = nil
            let value = key.withUnsafeBufferPointer { k in
                k.withMemoryRebound(to: CChar.self) { kc in
                    rocksdb_get_cf(db, readOptions, family, kc.baseAddress, kc.count, &length, &err)
                }
            }
            if let message = Database.take(err) { throw RocksDBError(operation: "get", message: message) }
            guard let value else { return nil }
            defer { rocksdb_free(value) }
            return value.withMemoryRebound(to: UInt8.self, capacity: length) { Array(UnsafeBufferPointer(start: $0, count: length)) }
        }
    }

    /// The values stored under `keys`, in the order of `keys` (nil where absent): one
    /// batched lookup (RocksDB's `MultiGet`), which probes each table file's filter for all
    /// the keys together instead of one key at a time. The keys need not be sorted: they are
    /// handed over sorted (``bytewiseOrder(_:)``, sixteen bytes at a time), since RocksDB sorts
    /// an unsorted batch itself by comparing whole internal keys, half of what a bulk request's
    /// lookups of new keys cost (callgrind of the bulk HTTP load: 82 M of 160 M instructions).
    ///
    /// A point lookup that misses costs a filter probe per level-0 file, and a bulk load
    /// leaves a dozen such files between compactions; batched, the probes of many keys
    /// overlap their cache misses.
    ///
    /// Keys of several column families are looked up family by family.
    /// - Throws: ``RocksDBError`` for the first key whose lookup failed.
    public func get(_ keys: [[UInt8]]) throws -> [[UInt8]?] {
        guard !keys.isEmpty else { return [] }
        let first = families.family(of: keys[0])
        guard keys.allSatisfy({ families.family(of: $0) == first }) else {
            // Rare (a batch of one kind of key is the rule): split, ask, put back in order.
            var values = [[UInt8]?](repeating: nil, count: keys.count)
            for family in 0..<families.count {
                let mine = keys.indices.filter { families.family(of: keys[$0]) == family }
                guard !mine.isEmpty else { continue }
                for (i, v) in zip(mine, try get(mine.map { keys[$0] })) { values[i] = v }
            }
            return values
        }
        return try withFamily("get", first) { db, family in
            // The keys' bytes side by side in one buffer, a pointer to each and its length.
            let total = keys.reduce(0) { $0 + $1.count }
            let bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: max(total, 1), alignment: 1)
            let pointers = UnsafeMutableBufferPointer<UnsafePointer<CChar>?>.allocate(capacity: keys.count)
            let sizes = UnsafeMutableBufferPointer<Int>.allocate(capacity: keys.count)
            let slices = UnsafeMutableBufferPointer<OpaquePointer?>.allocate(capacity: keys.count)
            let errors = UnsafeMutableBufferPointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: keys.count)
            defer {
                bytes.deallocate(); pointers.deallocate(); sizes.deallocate(); slices.deallocate(); errors.deallocate()
            }
            // Slot j holds the key at order[j], so the slots are in key order.
            let order = bytewiseOrder(keys)
            var offset = 0
            for (j, i) in order.enumerated() {
                let k = keys[i]
                let at = bytes.baseAddress.map { $0 + offset }
                k.withUnsafeBytes { if let at, let from = $0.baseAddress { at.copyMemory(from: from, byteCount: $0.count) } }
                pointers[j] = at.map { UnsafePointer($0.assumingMemoryBound(to: CChar.self)) }
                sizes[j] = k.count
                offset += k.count
            }
            slices.initialize(repeating: nil)
            errors.initialize(repeating: nil)
            rocksdb_batched_multi_get_cf(db, readOptions, family, keys.count, pointers.baseAddress, sizes.baseAddress,
                                         slices.baseAddress, errors.baseAddress, true)
            defer { for s in slices { if let s { rocksdb_pinnableslice_destroy(s) } } }
            var failure: String?
            for e in errors { if let message = Database.take(e), failure == nil { failure = message } }
            if let failure { throw RocksDBError(operation: "get", message: failure) }
            var values = [[UInt8]?](repeating: nil, count: keys.count)
            for (j, i) in order.enumerated() {
                guard let slice = slices[j] else { continue }
                var length = 0
                guard let value = rocksdb_pinnableslice_value(slice, &length) else { continue }
                values[i] = Database.copy(value, length)
            }
            return values
        }
    }

    /// Writes one key (synced when `sync`).
    public func put(_ key: [UInt8], _ value: [UInt8], sync: Bool = true) throws {
        let batch = WriteBatch()
        batch.put(key, value)
        try write(batch, sync: sync)
    }

    /// Deletes one key (synced when `sync`).
    public func delete(_ key: [UInt8], sync: Bool = true) throws {
        let batch = WriteBatch()
        batch.delete(key)
        try write(batch, sync: sync)
    }

    /// Applies `batch` atomically. With `sync` the call returns only after the WAL is fsynced.
    /// With `logged: false` the WAL is skipped (bulk rebuilds that end with ``flush()``):
    /// such writes are lost by a crash before the flush.
    /// A batch built for other families (``WriteBatch/families``) is routed to this store's
    /// first, in one more copy.
    public func write(_ batch: WriteBatch, sync: Bool, logged: Bool = true) throws {
        let routed = batch.families == families ? batch : WriteBatch(batch.records.routed(for: families))
        let pointer = routed.withEncoded { b in
            b.withMemoryRebound(to: CChar.self) { allocated(rocksdb_writebatch_create_from($0.baseAddress, $0.count), "write batch") }
        }
        defer { rocksdb_writebatch_destroy(pointer) }
        try withHandle("write") { db in
            var err: UnsafeMutablePointer<CChar>? = nil
            rocksdb_write(db, !logged ? unloggedWrite : sync ? syncWrite : asyncWrite, pointer, &err)
            if let message = Database.take(err) { throw RocksDBError(operation: "write", message: message) }
        }
    }

    // MARK: Iteration

    /// Calls `body` for each key in `[lower, upper)` in key order (or reverse order), until it
    /// returns false. The iterator is destroyed before this returns; key and value are copies.
    /// - Throws: an iterator error reported by RocksDB, or what `body` throws.
    public func scan(from lower: [UInt8], to upper: [UInt8], reverse: Bool = false,
                     _ body: (_ key: [UInt8], _ value: [UInt8]) throws -> Bool) throws {
        try iterate(from: lower, to: upper, reverse: reverse) { it in
            var klen = 0, vlen = 0
            guard let k = rocksdb_iter_key(it, &klen) else { return false }
            let v = rocksdb_iter_value(it, &vlen)
            return try body(Database.copy(k, klen), v.map { Database.copy($0, vlen) } ?? [])
        }
    }

    /// Like ``scan(from:to:reverse:_:)`` in key order, lending values alone (a replay of the
    /// log needs no keys, nor a copy of each record: it decodes them where they lie).
    /// - Parameters:
    ///   - cachingBlocks: whether the blocks read enter the block cache. A scan that reads each
    ///     block once (a replay of the whole log) passes false: it would otherwise decompress
    ///     every block into the cache, evicting what point reads use.
    ///   - body: gets each value's bytes, valid only for the call (copy what it keeps).
    public func scanValues(from lower: [UInt8], to upper: [UInt8], cachingBlocks: Bool = true,
                           _ body: (_ value: UnsafeBufferPointer<UInt8>) throws -> Bool) throws {
        try iterate(from: lower, to: upper, reverse: false, cachingBlocks: cachingBlocks) { it in
            var vlen = 0
            guard let v = rocksdb_iter_value(it, &vlen) else { return try body(UnsafeBufferPointer(start: nil, count: 0)) }
            return try v.withMemoryRebound(to: UInt8.self, capacity: vlen) { try body(UnsafeBufferPointer(start: $0, count: vlen)) }
        }
    }

    /// Like ``scan(from:to:reverse:_:)`` in key order, lending keys alone where the iterator
    /// holds them: no copy of a key or a value per entry (a count of the subjects a log
    /// names reads every subject-index key and keeps none).
    /// - Parameters:
    ///   - cachingBlocks: whether the blocks read enter the block cache (see
    ///     ``scanValues(from:to:cachingBlocks:_:)``).
    ///   - body: gets each key's bytes, valid only for the call (copy what it keeps).
    public func scanKeys(from lower: [UInt8], to upper: [UInt8], cachingBlocks: Bool = true,
                         _ body: (_ key: UnsafeBufferPointer<UInt8>) throws -> Bool) throws {
        try iterate(from: lower, to: upper, reverse: false, cachingBlocks: cachingBlocks) { it in
            var klen = 0
            guard let k = rocksdb_iter_key(it, &klen) else { return false }
            return try k.withMemoryRebound(to: UInt8.self, capacity: klen) { try body(UnsafeBufferPointer(start: $0, count: klen)) }
        }
    }

    /// The keys under each of several prefixes, at most `limit` per prefix, through one
    /// iterator (creating one costs more than a seek: a matcher looks up a few prefixes per
    /// record). `body` gets the prefix's index in `prefixes` and each key in key order. A
    /// prefix that is a group of ``DatabaseOptions/separatedPrefixes`` is looked up only in
    /// the files whose filter may hold it.
    public func keys(under prefixes: [[UInt8]], limit: Int, _ body: (_ prefix: Int, _ key: [UInt8]) throws -> Void) throws {
        guard !prefixes.isEmpty, limit > 0 else { return }
        let order = prefixes.indices.sorted { prefixes[$0].lexicographicallyPrecedes(prefixes[$1]) }
        let lower = prefixes[order.first!]
        let upper = Self.successor(of: prefixes[order.last!])
        let family = families.family(of: lower)
        precondition(prefixes.allSatisfy { families.family(of: $0) == family }, "prefixes of one column family")
        try withIterator(family: family, from: lower, to: upper, withinGroups: true) { it in
            for i in order {
                let prefix = prefixes[i]
                prefix.withUnsafeBufferPointer { p in
                    p.withMemoryRebound(to: CChar.self) { rocksdb_iter_seek(it, $0.baseAddress, p.count) }
                }
                var found = 0
                while found < limit, rocksdb_iter_valid(it) != 0 {
                    var klen = 0
                    guard let k = rocksdb_iter_key(it, &klen), klen >= prefix.count else { break }
                    let key = Database.copy(k, klen)
                    guard key.starts(with: prefix) else { break }
                    try body(i, key)
                    found += 1
                    rocksdb_iter_next(it)
                }
            }
        }
    }

    /// The smallest key above every key starting with `prefix`, nil when there is none (all 0xFF).
    public static func successor(of prefix: [UInt8]) -> [UInt8]? {
        var p = prefix
        while let last = p.last {
            if last < 0xFF { p[p.count - 1] = last + 1; return p }
            p.removeLast()
        }
        return nil
    }

    private static func copy(_ p: UnsafePointer<CChar>, _ count: Int) -> [UInt8] {
        p.withMemoryRebound(to: UInt8.self, capacity: count) { Array(UnsafeBufferPointer(start: $0, count: count)) }
    }

    /// Runs `visit` on an iterator positioned on each key of `[lower, upper)` in turn, until it
    /// returns false; the iterator and its bound buffers live exactly as long as this call.
    /// A range that crosses column families is read family part by family part
    /// (``KeyFamilies/parts(from:to:)``), which is key order.
    private func iterate(from lower: [UInt8], to upper: [UInt8], reverse: Bool, cachingBlocks: Bool = true,
                         _ visit: (OpaquePointer) throws -> Bool) throws {
        let parts = families.parts(from: lower, to: upper)
        var stopped = false
        for part in reverse ? parts.reversed() : parts where !stopped {
            try withIterator(family: part.family, from: part.lower, to: part.upper, cachingBlocks: cachingBlocks) { it in
                if reverse { rocksdb_iter_seek_to_last(it) } else { rocksdb_iter_seek_to_first(it) }
                while rocksdb_iter_valid(it) != 0 {
                    if try !visit(it) { stopped = true; break }
                    if reverse { rocksdb_iter_prev(it) } else { rocksdb_iter_next(it) }
                }
            }
        }
    }

    /// Runs `body` with an unpositioned iterator over `[lower, upper)` (no upper bound when
    /// `upper` is nil), then reports the iterator's error, if any.
    /// - Parameter withinGroups: the caller seeks only to groups of
    ///   ``DatabaseOptions/separatedPrefixes`` and never iterates past one, so the seek may skip
    ///   the files their filters rule out; every other iterator reads in total order.
    private func withIterator(family: Int, from lower: [UInt8], to upper: [UInt8]?, cachingBlocks: Bool = true, withinGroups: Bool = false,
                              _ body: (OpaquePointer) throws -> Void) throws {
        try withFamily("scan", family) { db, handle in
            let upperBuffer = UnsafeMutableBufferPointer<CChar>.allocate(capacity: max(upper?.count ?? 0, 1))
            let lowerBuffer = UnsafeMutableBufferPointer<CChar>.allocate(capacity: max(lower.count, 1))
            let ro = allocated(rocksdb_readoptions_create(), "read options")
            defer {
                rocksdb_readoptions_destroy(ro)
                upperBuffer.deallocate()
                lowerBuffer.deallocate()
            }
            if let upper {
                upper.withUnsafeBufferPointer { src in
                    for i in 0..<src.count { upperBuffer[i] = CChar(bitPattern: src[i]) }
                }
                rocksdb_readoptions_set_iterate_upper_bound(ro, upperBuffer.baseAddress, upper.count)
            }
            lower.withUnsafeBufferPointer { src in
                for i in 0..<src.count { lowerBuffer[i] = CChar(bitPattern: src[i]) }
            }
            rocksdb_readoptions_set_iterate_lower_bound(ro, lowerBuffer.baseAddress, lower.count)
            if !cachingBlocks { rocksdb_readoptions_set_fill_cache(ro, 0) }
            if !withinGroups { rocksdb_readoptions_set_total_order_seek(ro, 1) }
            let it = allocated(rocksdb_create_iterator_cf(db, ro, handle), "iterator")
            defer { rocksdb_iter_destroy(it) }
            try body(it)
            var err: UnsafeMutablePointer<CChar>? = nil
            rocksdb_iter_get_error(it, &err)
            if let message = Database.take(err) { throw RocksDBError(operation: "iterate", message: message) }
        }
    }

    // MARK: Maintenance

    /// Turns RocksDB's automatic compactions off or on again, as its bulk-load advice has it:
    /// a bulk load (a rebuild rewriting the whole derived key space) otherwise merges the
    /// new files with the existing ones while it writes, competing for the same cores.
    /// Switched back on, compaction resumes in the background; a database opened anew
    /// always has it on.
    /// - Throws: ``RocksDBError`` when RocksDB refuses the option.
    public func setAutoCompactions(_ enabled: Bool) throws {
        try compacting.withLock { on in
            try setOptions(["disable_auto_compactions": enabled ? "false" : "true"])
            on = enabled
        }
    }

    /// Whether RocksDB compacts on its own now (as opened, then as ``setAutoCompactions(_:)``
    /// last set it). While it does not, level 0 never stalls writes: RocksDB applies its
    /// level-0 slowdown and stop triggers only with automatic compactions on.
    public var autoCompactions: Bool { compacting.withLock { $0 } }

    /// How many level-0 files start a compaction (as opened:
    /// ``DatabaseOptions/levelZeroCompactionTrigger``), and how many slow writes down and stop
    /// them (RocksDB's defaults: 20 and 36). A bulk load that ingests files per group raises
    /// them, so that its files are merged a few large steps at a time rather than every few
    /// groups. Set in one call and kept in that order: Debian's
    /// RocksDB asserts it, and a compaction trigger above the slowdown trigger aborts the
    /// process.
    /// - Throws: ``RocksDBError`` when RocksDB refuses the options.
    public func setLevel0Triggers(compaction files: Int, slowdown: Int = 20, stop: Int = 36) throws {
        let compaction = max(1, files)
        let slowdown = max(slowdown, compaction + 1)
        try setOptions(["level0_file_num_compaction_trigger": String(compaction),
                        "level0_slowdown_writes_trigger": String(slowdown),
                        "level0_stop_writes_trigger": String(max(stop, slowdown + 1))])
    }

    /// Sets the size at which compactions cut their output files, from the next compaction
    /// on (see ``DatabaseOptions/targetFileSize``). RocksDB's bound on a compaction's input
    /// stays what the size at open gave (25 files' worth): a smaller size here does not make
    /// compactions from level 0 take fewer files and rewrite level 1 more often.
    /// - Throws: ``RocksDBError`` when RocksDB refuses the option.
    public func setTargetFileSize(_ bytes: UInt64) throws {
        try setOptions(["target_file_size_base": String(bytes)])
    }

    /// Whether RocksDB has a flush or a compaction running or due: work a load left behind,
    /// which the next reader or writer of the store pays for (reads merge every level-0
    /// file, writes stall at twenty) and which a closing process abandons half done.
    /// - Throws: ``RocksDBError`` when the database is closed, or when a flush or compaction
    ///   failed (a full disk): that work stays due and would be waited for forever.
    public func backgroundWorkPending() throws -> Bool {
        let pending = try (0..<families.count).contains { family in
            try ["rocksdb.mem-table-flush-pending", "rocksdb.num-running-flushes",
                 "rocksdb.compaction-pending", "rocksdb.num-running-compactions"].contains { try property($0, family: family).map { $0 != "0" } ?? false }
        }
        if pending, let errors = try property("rocksdb.background-errors"), errors != "0" {
            throw RocksDBError(operation: "background work", message: "\(errors) flushes or compactions failed; see the LOG in \(path)")
        }
        return pending
    }

    /// How long a wait for background work sleeps between looks, in nanoseconds: 2 ms, so
    /// that a wait ends within 2 ms of the work's end.
    public static let backgroundWorkPoll: UInt64 = 2_000_000

    /// Blocks the calling thread until ``backgroundWorkPending()`` is false, looking every
    /// ``backgroundWorkPoll``. For code on a thread of its own (benchmark aids); async code
    /// sleeps between looks instead of blocking a thread of the cooperative pool.
    /// - Throws: what ``backgroundWorkPending()`` throws.
    public func waitForBackgroundWork() throws {
        while try backgroundWorkPending() { usleep(UInt32(Self.backgroundWorkPoll / 1_000)) }
    }

    /// Changes mutable column-family options together (RocksDB's `SetOptions`: it checks
    /// them as a set, so related limits can move past each other).
    /// Every column family gets them.
    func setOptions(_ options: [String: String]) throws {
        for family in 0..<families.count {
            try withFamily("set options", family) { db, handle in
                var err: UnsafeMutablePointer<CChar>? = nil
                Self.withCStrings(Array(options.keys)) { names in
                    Self.withCStrings(Array(options.values)) { values in
                        rocksdb_set_options_cf(db, handle, Int32(options.count), names, values, &err)
                    }
                }
                if let message = Database.take(err) {
                    throw RocksDBError(operation: "set options \(options.keys.sorted().joined(separator: ", "))", message: message)
                }
            }
        }
    }

    /// A RocksDB property (`rocksdb.num-files-at-level0`, `rocksdb.stats`…) of the column
    /// family `family` (the default one unless told), or nil when RocksDB does not know it.
    public func property(_ name: String, family: Int = 0) throws -> String? {
        try withFamily("property", family) { db, handle in
            guard let value = rocksdb_property_value_cf(db, handle, name) else { return nil }
            defer { rocksdb_free(value) }
            return String(cString: value)
        }
    }

    /// A table file of the database as RocksDB's version holds it now.
    public struct TableFile: Sendable {
        public var name: String
        /// The column family that holds it (``KeyFamilies/name(_:)``).
        public var family: String
        public var level: Int
        public var smallestKey: [UInt8]
        public var largestKey: [UInt8]
        public var entries: UInt64
        /// Bytes on disk.
        public var size: Int
    }

    /// The live table files, each with its level and key range: where a bulk load's files
    /// landed, and which ones compaction has rewritten since.
    /// - Throws: ``RocksDBError`` when the database is closed.
    public func liveTableFiles() throws -> [TableFile] {
        try withHandle("live files") { db in
            guard let files = rocksdb_livefiles(db) else { return [] }
            defer { rocksdb_livefiles_destroy(files) }
            func key(_ bytes: UnsafePointer<CChar>?, _ size: Int) -> [UInt8] {
                guard let bytes else { return [] }
                return bytes.withMemoryRebound(to: UInt8.self, capacity: size) { Array(UnsafeBufferPointer(start: $0, count: size)) }
            }
            return (0..<rocksdb_livefiles_count(files)).map { i in
                var small = 0, large = 0
                let smallest = rocksdb_livefiles_smallestkey(files, i, &small)
                let largest = rocksdb_livefiles_largestkey(files, i, &large)
                return TableFile(name: rocksdb_livefiles_name(files, i).map { String(cString: $0) } ?? "",
                                 family: rocksdb_livefiles_column_family_name(files, i).map { String(cString: $0) } ?? "",
                                 level: Int(rocksdb_livefiles_level(files, i)),
                                 smallestKey: key(smallest, small), largestKey: key(largest, large),
                                 entries: rocksdb_livefiles_entries(files, i), size: rocksdb_livefiles_size(files, i))
            }
        }
    }

    /// Compacts the whole key range (reclaims space after deletes, for size figures).
    public func compactAll() throws {
        for family in 0..<families.count {
            try withFamily("compact", family) { db, handle in rocksdb_compact_range_cf(db, handle, nil, 0, nil, 0) }
        }
    }

    /// Flushes every column family's memtables to SST files and waits.
    public func flush() throws {
        for family in 0..<families.count {
            try withFamily("flush", family) { db, handle in
                let fo = allocated(rocksdb_flushoptions_create(), "flush options")
                defer { rocksdb_flushoptions_destroy(fo) }
                rocksdb_flushoptions_set_wait(fo, 1)
                var err: UnsafeMutablePointer<CChar>? = nil
                rocksdb_flush_cf(db, fo, handle, &err)
                if let message = Database.take(err) { throw RocksDBError(operation: "flush", message: message) }
            }
        }
    }

    /// Writes a consistent, openable copy of the database to `directory` (which must not
    /// exist), hard-linking SST files where the file system allows.
    /// For a secondary instance: reads the primary's new writes (its MANIFEST and WAL).
    public func catchUpWithPrimary() throws {
        try withHandle("catch up") { db in
            var err: UnsafeMutablePointer<CChar>? = nil
            rocksdb_try_catch_up_with_primary(db, &err)
            if let message = Database.take(err) { throw RocksDBError(operation: "catch up with primary", message: message) }
        }
    }

    /// Whether an open failed because another process holds the database (its LOCK file).
    public static func isHeldElsewhere(_ error: Error) -> Bool {
        guard let e = error as? RocksDBError, e.operation.hasPrefix("open") else { return false }
        let m = e.message.lowercased()
        return m.contains("lock") && (m.contains("temporarily unavailable") || m.contains("no locks") || m.contains("lock hold"))
    }

    public func checkpoint(to directory: String) throws {
        try withHandle("checkpoint") { db in
            var err: UnsafeMutablePointer<CChar>? = nil
            let cp = rocksdb_checkpoint_object_create(db, &err)
            if let message = Database.take(err) { throw RocksDBError(operation: "checkpoint", message: message) }
            defer { rocksdb_checkpoint_object_destroy(cp) }
            rocksdb_checkpoint_create(cp, directory, 0, &err)
            if let message = Database.take(err) { throw RocksDBError(operation: "checkpoint", message: message) }
        }
    }
}

/// RocksDB's C constructors return NULL only when C++ `new` fails; there is no way to go
/// on without memory, so that ends the process with a clear message instead of a crash.
func allocated<T>(_ pointer: T?, _ what: String) -> T {
    guard let pointer else { fatalError("RocksDB could not allocate \(what): out of memory") }
    return pointer
}
