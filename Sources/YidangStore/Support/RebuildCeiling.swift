import Dispatch
import Foundation
import RocksDB
import Synchronization

/// What RocksDB alone does with the reads and writes a rebuild of this store cannot avoid:
/// the ceiling under any replay of its log (docs/ARCHITECTURE.md, "Storage").
///
/// A rebuild reads every event of the log and writes every derived key (golden records, the
/// change feed, blocking keys, conflicts, counters: the range `0x10`–`0x1F`). This reads the
/// log's values as a replay does (in order, not cached) and, beside it, writes the store's
/// own derived keys and values, as they are, the cheapest way RocksDB takes them: sorted
/// table files, written on two threads, ingested after the range is deleted and
/// flushed, as ``Rebuilder`` deletes it before it starts. Nothing else: no decoding, no
/// fold, no encoding. The store ends as it began: the same derived keys, rewritten.
public enum RebuildCeiling {
    /// Reads `database`'s log and rewrites its derived keys, and measures it from the range
    /// deletion to the ingest. Reading the derived keys into memory first is not timed, nor
    /// compacting the store first: a rebuild leaves its files in level 0 for later, and
    /// their merge, started by this run's own files, would otherwise fall in the window.
    /// A benchmark aid for stores of the suite's size: it holds every derived key in memory.
    /// - Returns: the log's events per second of wall time, and the process's CPU per event.
    /// - Throws: ``RocksDBError`` from a read, a file, the flush or the ingest.
    public static func run(database: Database, writers: Int = 2) throws -> BulkWriteCeiling.Measurement {
        let writers = max(1, writers)
        var entries: [(key: [UInt8], value: [UInt8])] = []
        try database.scan(from: Keys.derivedRange.lower, to: Keys.derivedRange.upper) { key, value in
            entries.append((key, value))
            return true
        }
        let derived = entries
        let directory = database.path + ".ceiling-files"
        try? FileManager.default.removeItem(atPath: directory)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // Each writer takes a contiguous share of the sorted keys: files that do not overlap.
        let shares = (0..<writers).map { w in (derived.count * w / writers)..<(derived.count * (w + 1) / writers) }
        let files = (0..<writers).map { "\(directory)/derived-\($0).sst" }
        let events = Atomic<Int>(0)
        let failure = Mutex<(any Error)?>(nil)

        try database.compactAll()
        try database.waitForBackgroundWork()
        let started = DispatchTime.now().uptimeNanoseconds
        let cpuAtStart = ProcessCPU.seconds()
        // With the rebuild's marker: a run that fails between the deletion and the ingest
        // leaves a store the writer refuses to serve until `yidang rebuild` has run.
        let clear = WriteBatch()
        clear.deleteRange(from: Keys.derivedRange.lower, to: Keys.derivedRange.upper)
        clear.put(Keys.rebuildMarker, [1])
        try database.write(clear, sync: true)
        let written = Mutex<[SortedFile]>([])
        DispatchQueue.concurrentPerform(iterations: writers + 1) { task in
            do {
                if task == writers {
                    // The log, read as a replay reads it: each value lent once, nothing kept.
                    var n = 0
                    try database.scanValues(from: Keys.logKey(1), to: [Keys.log + 1], cachingBlocks: false) { _ in
                        n += 1
                        return true
                    }
                    events.store(n, ordering: .relaxed)
                    return
                }
                // A file per column family the share reaches (the change feed has its own).
                var writer: SortedFileWriter?
                var family = -1
                for i in shares[task] {
                    let f = database.families.family(of: derived[i].key)
                    if f != family || writer == nil {
                        if let open = writer, try open.finish() { written.withLock { $0.append(open.file) } }
                        writer = try database.sortedFileWriter(path: files[task] + "-\(i)", compressed: false)
                        family = f
                    }
                    try writer?.put(derived[i].key, derived[i].value)
                }
                if let open = writer, try open.finish() { written.withLock { $0.append(open.file) } }
            } catch {
                failure.withLock { $0 = $0 ?? error }
            }
        }
        if let error = failure.withLock({ $0 }) { throw error }
        try database.flush()
        try database.ingest(written.withLock { $0 })
        try database.delete(Keys.rebuildMarker, sync: true)
        return BulkWriteCeiling.Measurement(events: events.load(ordering: .relaxed), since: started, cpuAtStart: cpuAtStart)
    }
}
