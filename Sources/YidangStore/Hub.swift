import Foundation
import Logging
import RocksDB
import Synchronization
import YidangMatching
import YidangModel

/// An open data directory: the RocksDB database (`DIR/db`), the configuration it was
/// created with (`DIR/config.yaml`), the single writer and a reader.
public final class Hub: Sendable {
    public let directory: String
    public let database: Database
    public let configuration: Configuration
    public let store: EventStore
    public let reader: StoreReader
    public let validator: EventValidator
    /// Matching weights learned by `yidang matches train` (read at open; see ``MatchModels``).
    public let matchModels: [EntityKind: MatchModel]
    /// The replicated log when this hub is a cluster node (see ``sequencer``).
    let sequencerCell = Mutex<(any EventSequencer)?>(nil)

    /// Opens (creating) `directory`. A configuration file given here is copied into the
    /// directory and used from then on; without one the directory's copy, else the default.
    /// - Throws: ``RocksDBError`` (e.g. another process holds the directory),
    ///   ``ConfigurationError``, ``StoreError/projectionBehind(log:projected:)``, or what
    ///   rebuilding the projection after an interrupted import throws.
    /// - Parameter compacting: whether RocksDB merges table files in the background. A
    ///   short-lived process that only reads passes false: a merge it started on opening
    ///   would only be cancelled, or waited for, when it closes.
    /// - Parameter readingIfHeld: when another process (a serving hub) holds the directory,
    ///   open it as a RocksDB secondary instance instead: reads see what the holder had
    ///   synced at the open, every write fails.
    public init(directory: String, configPath: String? = nil, compacting: Bool = true, readingIfHeld: Bool = false,
                logger: Logger = Logger(label: "yidang")) throws {
        let (db, config) = try Hub.openDatabase(directory: directory, configPath: configPath, compacting: compacting, readingIfHeld: readingIfHeld)
        // An import that stopped before writing the golden records it kept waiting
        // (``EventStore/setBulkLoading(_:)``): the log holds every event it was answered for,
        // and the projection is rebuilt from it before the writer starts.
        if !db.isSecondary, try db.get(Keys.lateGoldenRecordsMarker) != nil {
            logger.warning("an import stopped before writing its golden records: rebuilding the projection from the log")
            try Rebuilder.rebuild(from: db, into: db, configuration: config)
        }
        self.directory = directory
        self.database = db
        self.configuration = config
        self.matchModels = try MatchModels.load(directory: directory)
        self.store = try EventStore(database: db, configuration: config, logger: logger, matchModels: matchModels)
        self.reader = StoreReader(database: db, configuration: config)
        self.validator = EventValidator(configuration: config)
    }

    /// Closes the database (waiting for in-flight reads and writes). Call before exiting.
    /// Like a checkpoint at shutdown, a clean close first flushes the memtables to SST
    /// files, so the next open replays no write-ahead log (after a bulk import that replay
    /// was most of the next command's start-up).
    public func close() {
        store.stopKeyCensus()
        // Losing this error is safe: an unflushed memtable is still in the synced write-ahead
        // log, which the next open replays; the flush only shortens that replay.
        try? database.flush()
        database.close()
        // A secondary's own files (its info log) are scratch; a leftover in the temporary
        // directory is harmless.
        if let secondary = database.secondaryPath { try? FileManager.default.removeItem(atPath: secondary) }
    }

    /// Whether this process reads a directory another process holds (see `readingIfHeld`).
    public var isReadingHeldDirectory: Bool { database.isSecondary }

    /// Opens the database without the writer (for rebuild / verify, which must work when
    /// the projection is behind). Without `compacting` (a replay's bulk load, a read-only
    /// command), RocksDB's automatic compactions are off: what the last import left in level
    /// 0 is not merged while a replay needs the cores, nor by a process about to exit.
    public static func openDatabase(directory: String, configPath: String?, compacting: Bool = true,
                                    readingIfHeld: Bool = false) throws -> (Database, Configuration) {
        let fm = FileManager.default
        try fm.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let stored = directory + "/config.yaml"
        let source = configPath ?? (fm.fileExists(atPath: stored) ? stored : nil)
        // Decoded on a thread of its own while RocksDB opens: decoding YAML into the
        // configuration's types is ~45 M instructions (callgrind; most of them the runtime's
        // first conformance lookups of each type), and beside the open it left 6–8 ms of a
        // 36 ms `person show` (perf stat).
        let decoded = Promise<Configuration>()
        Thread.detachNewThread { decoded.complete(Result { try Configuration.load(path: source) }) }
        var options = DatabaseOptions()
        options.autoCompactions = compacting
        // The matcher seeks the blocking index one key at a time (kind, key, 0, subjects).
        options.separatedPrefixes = Keys.blockIndex
        options.keyFamilies = Keys.families
        let opened = Result { try Database(path: directory + "/db", options: options) }
        // A configuration that cannot be used is what is reported (not the store's own
        // error), and a store opened meanwhile is closed again.
        let config: Configuration
        do { config = try decoded.wait() } catch {
            if case .success(let db) = opened { db.close() }
            throw error
        }
        let db: Database
        switch opened {
        case .success(let primary):
            db = primary
        case .failure(let error) where readingIfHeld && Database.isHeldElsewhere(error):
            options.secondaryPath = NSTemporaryDirectory() + "yidang-reader-\(getpid())-\(UUID().uuidString)"
            options.autoCompactions = false
            return (try Database(path: directory + "/db", options: options), config)
        case .failure(let error):
            throw error
        }
        // Copied only once the directory is this process's: never under a serving hub.
        if let configPath, configPath != stored {
            do {
                // A missing old copy is the usual case; a copy that cannot be removed makes
                // the copyItem below throw, which is reported.
                try? fm.removeItem(atPath: stored)
                try fm.copyItem(atPath: configPath, toPath: stored)
            } catch {
                db.close()
                throw error
            }
        }
        return (db, config)
    }

    /// Writes a consistent copy of the data directory to `destination` (a new directory).
    public static func backup(database: Database, directory: String, to destination: String) throws {
        let fm = FileManager.default
        guard !fm.fileExists(atPath: destination) else { throw StoreError.corrupt("backup destination \(destination) already exists") }
        try fm.createDirectory(atPath: destination, withIntermediateDirectories: true)
        try database.checkpoint(to: destination + "/db")
        if fm.fileExists(atPath: directory + "/config.yaml") {
            try fm.copyItem(atPath: directory + "/config.yaml", toPath: destination + "/config.yaml")
        }
    }

    /// Restores a backup into `directory`, which must not hold data yet.
    public static func restore(from source: String, to directory: String) throws {
        let fm = FileManager.default
        guard fm.fileExists(atPath: source + "/db/CURRENT") else { throw StoreError.notFound("backup at \(source)") }
        if fm.fileExists(atPath: directory + "/db") { throw StoreError.corrupt("\(directory) already holds data; restore into an empty directory") }
        try fm.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try fm.copyItem(atPath: source + "/db", toPath: directory + "/db")
        if fm.fileExists(atPath: source + "/config.yaml") {
            try fm.copyItem(atPath: source + "/config.yaml", toPath: directory + "/config.yaml")
        }
    }
}
