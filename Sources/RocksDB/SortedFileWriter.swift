import CRocksDB
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes keys in strictly ascending order into a table file (RocksDB's `SstFileWriter`)
/// for ``Database/ingest(_:)``: a bulk load that bypasses the memtable, the WAL and the
/// flush. Not thread-safe; one writer feeds it.
///
/// The file is only written; nothing is visible in the database until it is ingested. It
/// holds the keys of one column family (``KeyFamilies``): the family of its first key.
public final class SortedFileWriter {
    private let writer: OpaquePointer
    private let envOptions: OpaquePointer
    private let options: OpaquePointer
    /// The file being written.
    public let path: String
    /// Keys added so far.
    public private(set) var count = 0
    /// The families of the database the file is for.
    private let families: KeyFamilies
    /// The family of the file's keys (that of its first key; 0 while it has none).
    private var family = 0
    /// The file, as ``Database/ingest(_:)`` takes it.
    public var file: SortedFile { SortedFile(path: path, family: family) }
    private var finished = false
    /// Whether ``finish()`` reads the file back into the page cache (see ``readBack()``).
    private let readsBack: Bool

    /// Opens `path` (replacing a file there) with `database`'s table format and the
    /// compression `compression` (a RocksDB compression type); with `tableOptions`, that
    /// table format instead (RocksDB copies it).
    /// With `readsBack`, ``finish()`` reads the finished file once to put it back into the page
    /// cache (see ``readBack()``).
    /// - Throws: ``RocksDBError`` when the file cannot be created.
    init(path: String, options databaseOptions: OpaquePointer, compression: Int32, tableOptions: OpaquePointer? = nil,
         readsBack: Bool = true, families: KeyFamilies = .single) throws {
        self.path = path
        self.families = families
        self.readsBack = readsBack
        // A table file writer compresses like the last level when levels differ: its own
        // copy of the options names the one compression wanted.
        let options = allocated(rocksdb_options_create_copy(databaseOptions), "options")
        let only = [compression]
        only.withUnsafeBufferPointer { rocksdb_options_set_compression_per_level(options, $0.baseAddress, 1) }
        rocksdb_options_set_compression(options, compression)
        if let tableOptions { rocksdb_options_set_block_based_table_factory(options, tableOptions) }
        self.options = options
        envOptions = allocated(rocksdb_envoptions_create(), "env options")
        writer = allocated(rocksdb_sstfilewriter_create(envOptions, options), "table file writer")
        var err: UnsafeMutablePointer<CChar>? = nil
        rocksdb_sstfilewriter_open(writer, path, &err)
        if let message = Database.take(err) {
            rocksdb_sstfilewriter_destroy(writer)
            rocksdb_envoptions_destroy(envOptions)
            rocksdb_options_destroy(options)
            throw RocksDBError(operation: "open table file \(path)", message: message)
        }
    }

    deinit {
        rocksdb_sstfilewriter_destroy(writer)
        rocksdb_envoptions_destroy(envOptions)
        rocksdb_options_destroy(options)
    }

    /// Adds `key`, which must sort after every key added before it.
    /// - Throws: ``RocksDBError`` for a key out of order or a failed write.
    public func put(_ key: [UInt8], _ value: [UInt8]) throws {
        try value.withUnsafeBufferPointer { try put(key, $0) }
    }

    /// Like ``put(_:_:)-(_,[UInt8])``, with the value lent where it lies.
    public func put(_ key: [UInt8], _ value: UnsafeBufferPointer<UInt8>) throws {
        try key.withUnsafeBufferPointer { try put(key: $0, value: value) }
    }

    /// Like ``put(_:_:)-(_,[UInt8])``, with the key and the value lent where they lie.
    public func put(key: UnsafeBufferPointer<UInt8>, value: UnsafeBufferPointer<UInt8>) throws {
        try admit(key)
        var err: UnsafeMutablePointer<CChar>? = nil
        key.withMemoryRebound(to: CChar.self) { kc in
            value.withMemoryRebound(to: CChar.self) { vc in
                rocksdb_sstfilewriter_put(writer, kc.baseAddress, kc.count, vc.baseAddress, vc.count, &err)
            }
        }
        if let message = Database.take(err) { throw RocksDBError(operation: "add to table file", message: message) }
        count += 1
    }

    /// Adds a deletion of `key` (it hides older values of the key once ingested); `key`
    /// must sort after every key added before it.
    /// - Throws: ``RocksDBError`` for a key out of order or a failed write.
    public func delete(_ key: [UInt8]) throws {
        try admit(key)
        var err: UnsafeMutablePointer<CChar>? = nil
        key.withUnsafeBufferPointer { k in
            k.withMemoryRebound(to: CChar.self) { kc in rocksdb_sstfilewriter_delete(writer, kc.baseAddress, kc.count, &err) }
        }
        if let message = Database.take(err) { throw RocksDBError(operation: "add a deletion to table file", message: message) }
        count += 1
    }

    /// Takes the family of the first key, and refuses a key of another.
    @inline(__always)
    private func admit(_ key: some Collection<UInt8>) throws {
        let f = families.family(of: key)
        if count == 0 { family = f; return }
        guard f == family else {
            throw RocksDBError(operation: "add to table file \(path)",
                               message: "a key of column family \(families.name(f)) in a file of \(families.name(family))")
        }
    }

    /// Completes the file (index, filter, footer, synced). An empty writer leaves no file
    /// and returns false: RocksDB cannot finish a table without keys.
    /// - Throws: ``RocksDBError`` when the file cannot be completed.
    @discardableResult
    public func finish() throws -> Bool {
        guard !finished else { return count > 0 }
        finished = true
        guard count > 0 else { return false }
        var err: UnsafeMutablePointer<CChar>? = nil
        rocksdb_sstfilewriter_finish(writer, &err)
        if let message = Database.take(err) { throw RocksDBError(operation: "finish table file \(path)", message: message) }
        if readsBack { readBack() }
        return true
    }

    /// Reads the finished file once, front to back, to put it back into the page cache
    /// (unless made with `readsBack: false`).
    ///
    /// RocksDB's table file writer drops every page it writes from the page cache (its
    /// `invalidate_page_cache`, which the C API cannot turn off), so after a bulk load every
    /// read of the loaded data went to the disk: matching 3,000 records into a registry of
    /// 10⁵ just imported ran at 1,259–1,285 records/s, at 2,397–2,533 with the same files
    /// cached. A sequential read of a file just written costs little (the disk gives about
    /// 1.3 GB/s; `POSIX_FADV_WILLNEED` brought back only a third of the pages). Only a
    /// hint: a failure changes nothing but speed.
    private func readBack() {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return }
        defer { close(fd) }
        let size = 1 << 20
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 4096)
        defer { buffer.deallocate() }
        while read(fd, buffer, size) > 0 {}
    }
}

extension Database {
    /// A writer of a table file in this database's format, to be ingested later. By default
    /// it is compressed like the levels below level 0: a file that overlaps no existing key
    /// lands in the last level, where compaction seldom rewrites it. A file known to overlap
    /// existing keys lands in level 0 and may be written plain, like a flush
    /// (`compressed: false`); compaction compresses it later.
    ///
    /// `filtered: false` leaves out the file's Bloom filter, for keys that lookups only ever
    /// find (the log's positions, the change feed's): a filter answers only for keys a file
    /// lacks, and building one costs about four hundred instructions a key. Reads of such a
    /// file go straight to its index; a compaction that rewrites it adds a filter again.
    ///
    /// `cached: false` leaves the finished file out of the page cache (RocksDB's writer drops
    /// its pages as it writes), for keys read long after, if at all, and then in order (a
    /// change feed): reading it back cost a registry snapshot's rebuild about 20 ms of its
    /// 0.19 s end (hand runs, eight rounds).
    public func sortedFileWriter(path: String, compressed: Bool = true, filtered: Bool = true, cached: Bool = true) throws -> SortedFileWriter {
        try SortedFileWriter(path: path, options: options,
                             compression: compressed ? compression : DatabaseOptions.Compression.none.rawValue,
                             tableOptions: filtered ? nil : unfilteredTableOptions, readsBack: cached, families: families)
    }

    /// Moves finished table files into the database. Their keys must not overlap one another;
    /// they shadow older values of the same keys (those in the memtable are flushed first).
    ///
    /// The files of one column family are ingested atomically: after a crash either all of
    /// them are part of it or none. RocksDB's C API ingests into one family at a time, so
    /// files of several families are ingested family by family, the default family first:
    /// a crash between two leaves the default family's files in and the others' out. A
    /// caller that needs them together marks the store first, in the default family, and
    /// repairs what a crash left when it finds the mark.
    /// - Throws: ``RocksDBError`` when RocksDB refuses the files (overlap, bad file…).
    public func ingest(_ files: [SortedFile]) throws {
        guard !files.isEmpty else { return }
        for family in 0..<families.count {
            let paths = files.filter { $0.family == family }.map(\.path)
            guard !paths.isEmpty else { continue }
            try withFamily("ingest", family) { db, handle in
                let io = allocated(rocksdb_ingestexternalfileoptions_create(), "ingest options")
                defer { rocksdb_ingestexternalfileoptions_destroy(io) }
                rocksdb_ingestexternalfileoptions_set_move_files(io, 1)
                var err: UnsafeMutablePointer<CChar>? = nil
                Database.withCStrings(paths) { list in
                    rocksdb_ingest_external_file_cf(db, handle, list, list.count, io, &err)
                }
                if let message = Database.take(err) { throw RocksDBError(operation: "ingest", message: message) }
            }
        }
    }
}

/// A finished table file and the column family its keys belong to.
public struct SortedFile: Sendable, Equatable {
    public let path: String
    let family: Int
}
