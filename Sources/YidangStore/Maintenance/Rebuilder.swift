import Foundation
import RocksDB
import YidangModel
import YidangProjection

/// Progress of long work: (done, total).
public typealias Progress = @Sendable (_ done: UInt64, _ total: UInt64) -> Void

/// What a replay did, and where its time went.
public struct RebuildReport: Sendable, Hashable {
    /// Events replayed.
    public var events: UInt64
    /// Seconds clearing the derived range, reading the log and folding it, up to the last
    /// batch written.
    public var replaySeconds: Double
    /// Seconds after that: the golden records and the small writes written as table files,
    /// the flush, and the ingest of every file.
    public var finishSeconds: Double
}

/// Recreates the derived stores from the log alone (invariant 1: the log is the truth).
public enum Rebuilder {
    /// Deletes every derived key of `target` and replays the log of `source` into it.
    /// `source` and `target` may be the same database (`yidang rebuild`) or differ
    /// (`yidang verify` replays into a scratch database).
    /// - Returns: the events replayed, and the time the replay and its end took.
    @discardableResult
    public static func rebuild(from source: Database, into target: Database, configuration: Configuration,
                               batchSize: Int = 5_000, cacheLimit: Int = 50_000, cacheCeiling: Int = 200_000,
                               changesPerFile: Int? = nil,
                               progress: Progress? = nil) throws -> RebuildReport {
        let started = DispatchTime.now().uptimeNanoseconds
        // A load stopped before its end: it may have held the log's indexes and never written
        // them, or stopped between a group's ingests, its indexes stored and its log entries
        // not. They come first, as the census and the replay's refolds read the subject index.
        if source === target, try source.get(Keys.lateGoldenRecordsMarker) != nil {
            try LogIndexRebuild.rebuild(database: source, configuration: configuration)
        }
        // The count of golden records the store keeps sizes the cache from the first event.
        // Without it (a store written before it was kept), the log's subjects are counted
        // beside the replay, only as far as the answer can change the cache: reading the
        // subject index took the other core for the replay's first fifth (registry snapshot).
        let known = try source.get(Keys.subjectCountHint).map { Int(clamping: Keys.readBE($0)) }
        let census = known == nil ? SubjectCensus(of: source, upTo: cacheCeiling / ReplayProjectionWriter.generations) : nil
        defer { census?.finish() }
        var sized = false
        // The marker survives a crash mid-rebuild (the replay skips the WAL), so the
        // writer refuses to start on a half-built projection until rebuild completes.
        let clear = WriteBatch()
        clear.deleteRange(from: Keys.derivedRange.lower, to: Keys.derivedRange.upper)
        clear.put(Keys.rebuildMarker, [1])
        try target.write(clear, sync: true)
        // A bulk load: the new files are merged with the old ones later, in the background,
        // not while the replay needs both cores. Compactions are left as found: a database
        // opened without them for this replay (`yidang rebuild`) is about to close, and
        // switching them on would start a merge of level 0 that RocksDB 7.8 finishes rather
        // than cancels at close (seconds, after an import of the benchmark's city). The next
        // process that compacts merges it, in the background; until then RocksDB applies no
        // level-0 write stalls (they need automatic compactions on).
        let compacting = target.autoCompactions
        if compacting { try target.setAutoCompactions(false) }
        // Not switched back on (an option RocksDB refused): the next process that opens the
        // store compacts again, as every open does.
        defer { if compacting { try? target.setAutoCompactions(true) } }
        let reader = StoreReader(database: source, configuration: configuration)
        let total = try reader.headPosition()
        // No one reads the target until the replay completes: each golden record is written
        // once, when it leaves the cache or at the end (into a table file of its own).
        // An unmerge refolds records from the log (the source's subject index).
        // The cache starts at `cacheLimit` records and grows to `cacheCeiling` only while the
        // records it lets go come back (a registry snapshot's subjects, once per department).
        let projection = try ReplayProjectionWriter(configuration: configuration, cacheLimit: cacheLimit, cacheCeiling: cacheCeiling,
                                                    store: .init(keys: nil, history: { try reader.history(of: $0) })) { try target.get($0) }
        // The change feed, one record per event and the bulk of the writes, goes straight into
        // table files ingested at the end; the rest through the memtable.
        // Ingested files land in level 0 (they overlap the range deletion above), so a large
        // log gets larger files rather than more of them: at most about sixteen.
        if let known {
            sized = true
            projection.holdEverySubject(of: known)
        }
        let replayFiles = try ReplayFiles(database: target, directory: target.path + ".ingest",
                                          keysPerFile: changesPerFile ?? max(1_000_000, Int(total / 16) + 1))
        // This thread folds; one reads and decodes the log ahead of it, another encodes and
        // writes the batches.
        let background = BackgroundBatchWriter(database: target, replayFiles: replayFiles)
        var batch = DeferredWrites(events: batchSize)
        var inBatch = 0
        var done: UInt64 = 0
        /// The batch submitted at the last rotation of a cache.
        var rotatedAt = 0
        // The fold reads envelopes and bodies only: payloads are stepped over. Another thread
        // reads and decodes them ahead of the fold (the slowest stage).
        try reader.forEachEventReadingAhead(payload: false) { event in
            do { try projection.apply(event, into: batch) } catch is EventRejection {
                // A stored steward decision always applied when it was written; replaying the
                // same log in the same order applies it again. Reaching here means the log and
                // the code disagree, which verify reports.
            }
            inBatch += 1
            done += 1
            if inBatch >= batchSize {
                if !sized, let subjects = census?.result() {
                    sized = true
                    projection.holdEverySubject(of: subjects)
                }
                projection.finishBatch(into: batch)
                let number = try background.submit(batch)
                // Cache misses read the target: records may leave the caches only once the
                // batches holding them are written. Those a rotation drops were written by the
                // previous rotation's batch at the latest (the caches keep a leaving
                // generation), so the fold waits only for that one, not for this batch.
                if projection.cacheIsFull {
                    try background.waitUntilWritten(through: rotatedAt)
                    rotatedAt = number
                }
                projection.committed()
                batch = DeferredWrites(events: batchSize)
                inBatch = 0
                progress?(done, total)
            }
        }
        if done > 0 { projection.finishBatch(into: batch) }
        try background.submit(batch)
        try background.drain()
        let replayed = DispatchTime.now().uptimeNanoseconds
        // The links, counters and open-conflict index are sorted and written beside the golden
        // records, not after them.
        replayFiles.startWritingSmall()
        let unwritten = projection.takeUnwrittenStates()
        try replayFiles.putGoldens(unwritten)
        // The replay skipped the WAL: make it durable before reporting success. The memtable
        // holds the range deletion of the old change feed, so it is flushed before the new
        // feed's files are ingested on top of it.
        try target.flush()
        try replayFiles.ingest()
        // Freed on the writer thread: it takes a while, and nothing waits for it now.
        let retired = projection.takeCaches()
        retired.keep(consume unwritten)
        background.free(retired)
        let finished = WriteBatch()
        finished.delete(Keys.rebuildMarker)
        // Exact here: the replay counted every record it made.
        if let count = projection.subjectCount { finished.put(Keys.subjectCountHint, Keys.be(count)) }
        // The projection now follows the whole log, whatever an interrupted import left.
        if source === target { finished.delete(Keys.lateGoldenRecordsMarker) }
        try target.write(finished, sync: true)
        progress?(done, total)
        let ended = DispatchTime.now().uptimeNanoseconds
        return RebuildReport(events: done, replaySeconds: Double(replayed - started) / 1e9, finishSeconds: Double(ended - replayed) / 1e9)
    }
}

/// What `verify` found.
public struct VerifyReport: Sendable {
    public var events: UInt64 = 0
    public var keysCompared: UInt64 = 0
    public var mismatches: [String] = []
    public var isConsistent: Bool { mismatches.isEmpty }
}

/// Proves the stored projection, conflicts and change feed equal a fresh replay of the log,
/// and that the log's subject and idempotency indexes agree with the log.
public enum Verifier {
    public static func verify(database: Database, configuration: Configuration, scratchDirectory: String,
                              progress: Progress? = nil) throws -> VerifyReport {
        try verify(database: database, configuration: configuration, scratchDirectory: scratchDirectory,
                   batchSize: 5_000, cacheLimit: 50_000, cacheCeiling: 200_000, changesPerFile: nil, progress: progress)
    }

    static func verify(database: Database, configuration: Configuration, scratchDirectory: String,
                       batchSize: Int, cacheLimit: Int, cacheCeiling: Int, changesPerFile: Int?, progress: Progress?) throws -> VerifyReport {
        // A scratch replay's files: never part of the store; a stale one that cannot be removed
        // makes the open below fail, which is reported.
        try? FileManager.default.removeItem(atPath: scratchDirectory)
        defer {
            try? FileManager.default.removeItem(atPath: scratchDirectory)
            try? FileManager.default.removeItem(atPath: scratchDirectory + ".ingest")   // left by a failed replay
        }
        var options = DatabaseOptions()
        options.keyFamilies = Keys.families
        options.compression = .none
        // Compared once and deleted: never worth merging.
        options.autoCompactions = false
        let scratch = try Database(path: scratchDirectory, options: options)
        var report = VerifyReport()
        if try database.get(Keys.lateGoldenRecordsMarker) != nil {
            report.mismatches.append("an import has not written its golden records yet (still running, or stopped: the next hub to open the directory rebuilds them)")
        }
        report.events = try Rebuilder.rebuild(from: database, into: scratch, configuration: configuration,
                                              batchSize: batchSize, cacheLimit: cacheLimit, cacheCeiling: cacheCeiling,
                                              changesPerFile: changesPerFile,
                                              progress: progress).events
        var lower = Keys.derivedRange.lower
        let upper = Keys.derivedRange.upper
        while true {
            let stored = try chunk(database, from: lower, to: upper)
            let fresh = try chunk(scratch, from: lower, to: upper)
            if stored.isEmpty && fresh.isEmpty { break }
            var i = 0, j = 0
            // Compare up to the smaller of the two chunks' last keys (or to the end when a
            // chunk is not full), then continue after it.
            var limitKey = upper
            for side in [stored, fresh] where side.count == chunkSize {
                if let last = side.last?.0, last.lexicographicallyPrecedes(limitKey) { limitKey = last }
            }
            func within(_ k: [UInt8]) -> Bool { limitKey == upper || !limitKey.lexicographicallyPrecedes(k) }
            while true {
                let a = i < stored.count && within(stored[i].0) ? stored[i] : nil
                let b = j < fresh.count && within(fresh[j].0) ? fresh[j] : nil
                if a == nil && b == nil { break }
                report.keysCompared += 1
                switch (a, b) {
                case let (a?, b?) where a.0 == b.0:
                    if a.1 != b.1 && !sameGoldenRecord(key: a.0, a.1, b.1) { note(&report, "differs", a.0) }
                    i += 1; j += 1
                case let (a?, b?):
                    if a.0.lexicographicallyPrecedes(b.0) { note(&report, "stored but not in replay", a.0); i += 1 }
                    else { note(&report, "missing from store", b.0); j += 1 }
                case let (a?, nil): note(&report, "stored but not in replay", a.0); i += 1
                case let (nil, b?): note(&report, "missing from store", b.0); j += 1
                case (nil, nil): break
                }
            }
            if limitKey == upper { break }
            lower = limitKey + [0]
        }
        // The log's own indexes are not rebuilt: they are checked against the log.
        var found: [String] = []
        try LogIndexCheck.check(database: database, configuration: configuration, limit: max(0, 50 - report.mismatches.count), into: &found)
        report.mismatches += found
        return report
    }

    static let chunkSize = 10_000

    /// Whether two stored golden records hold the same state in different formats (a store
    /// written before format 2 keeps its format-1 records until their subjects change).
    static func sameGoldenRecord(key: [UInt8], _ a: [UInt8], _ b: [UInt8]) -> Bool {
        // A record that does not decode is not the same record: verify reports it as different.
        guard key.first == Keys.golden, let x = try? SubjectState(encoded: a), let y = try? SubjectState(encoded: b) else { return false }
        return x == y
    }

    static func chunk(_ db: Database, from lower: [UInt8], to upper: [UInt8]) throws -> [([UInt8], [UInt8])] {
        var out: [([UInt8], [UInt8])] = []
        try db.scan(from: lower, to: upper) { k, v in out.append((k, v)); return out.count < chunkSize }
        return out
    }

    static func note(_ report: inout VerifyReport, _ what: String, _ key: [UInt8]) {
        guard report.mismatches.count < 50 else { return }
        report.mismatches.append("\(what): \(describe(key))")
    }

    static func describe(_ key: [UInt8]) -> String {
        guard let p = key.first else { return "(empty key)" }
        let rest = key.dropFirst()
        switch p {
        case Keys.golden: return "golden record \(rest.first == 0 ? "person" : "enterprise")/\(String(decoding: rest.dropFirst(), as: UTF8.self))"
        case Keys.conflict: return "conflict \(Keys.readBE(rest))"
        case Keys.openConflict: return "open-conflict index \(Keys.readBE(rest))"
        case Keys.change: return "change \(Keys.readBE(rest))"
        case Keys.personLink, Keys.enterpriseLink: return "link \(String(decoding: rest.map { $0 == 0 ? 0x2F : $0 }, as: UTF8.self))"
        case Keys.quality: return "quality counter \(String(decoding: rest.map { $0 == 0 ? 0x2F : $0 }, as: UTF8.self))"
        case Keys.derivedMeta: return "counter \(String(decoding: rest, as: UTF8.self))"
        default: return "key 0x" + key.prefix(12).map { String($0, radix: 16) }.joined()
        }
    }
}
