import Dispatch
import Foundation
import JSON
import MemoryHints
import RocksDB
import Synchronization
import YidangModel
import YidangProjection

/// A replay's output that no one reads before it completes — its change feed, its final
/// golden records, links, the open-conflict index and counters — written straight into
/// table files, then ingested at once.
///
/// Change positions ascend for the whole replay, so the records can skip the memtable, the
/// WAL and the flush: they are the bulk of what a rebuild writes (one per event), and the
/// memtable insert and flush were most of the rebuild's write cost. Files hold at most
/// `keysPerFile` records each and never overlap; the golden records, written once at the
/// end in key order, go into files of their own (their key prefix differs), most of them
/// from drafts encoded while the fold still ran (``draft(_:number:)``). ``ingest()``
/// moves all of them into the database, one ingest per column family (the rebuild's marker
/// covers a stop between two), above whatever the replay wrote through the memtable. Used
/// from one thread at a time.
///
/// The small writes (``putSmall(_:_:)``: links, the open-conflict index, counters) are kept
/// in memory in the order made (``SmallWrites``), and the last one per key is written in key
/// order by ``ingest()``: the fold never reads them back, and through the memtable their
/// random keys cost the writer thread more than encoding the whole change feed.
///
/// The files are written uncompressed: the replay starts by deleting the derived key range,
/// so they overlap that deletion and land in level 0, which compaction compresses into
/// the levels below (as it does a flush).
final class ReplayFiles: @unchecked Sendable {
    let database: Database
    /// Where the files are written before ingestion (emptied first; removed by ``ingest()``).
    let directory: String
    let keysPerFile: Int
    private var finished: [SortedFile] = []
    private var current: SortedFileWriter?
    /// A change's key, rewritten in place for each record.
    private var key = Keys.changeKey(0)
    /// The small writes, in the order they were made.
    private var small = SmallWrites()
    /// A golden record encoded ahead of the end: its key and bytes, and the event count it was
    /// encoded at.
    private struct Draft: Sendable {
        let eventCount: UInt64
        let key: [UInt8]
        let encoded: [UInt8]
    }
    /// By draft number; nil where replaced, taken, or never offered.
    private var drafts: [Draft?] = []

    /// The draft when it holds `state`, nil when there is none or it is stale. The writer
    /// names only a draft that holds the record as it is (``CachedState/currentDraft``); the
    /// event count, which every event folded raises, is checked as well.
    private static func current(_ draft: Draft?, for state: SubjectState) -> Draft? {
        guard let draft, draft.eventCount == state.eventCount else { return nil }
        return draft
    }

    /// - Throws: when `directory` cannot be created.
    init(database: Database, directory: String, keysPerFile: Int = 1_000_000) throws {
        self.database = database
        self.directory = directory
        self.keysPerFile = max(1, keysPerFile)
        // Leftovers of a failed replay, never ingested; createDirectory reports a real problem.
        try? FileManager.default.removeItem(atPath: directory)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    /// Writes one change record, already encoded; its position must be above every one
    /// written before. The change feed's files have no filter: it is read by position,
    /// which it holds. Nor are they read back into the page cache: subscribers read the feed
    /// from where they stand, mostly its newest records, and a whole feed in order.
    /// - Throws: ``RocksDBError`` for a failed write or a position out of order.
    func putChange(position: UInt64, encoded value: UnsafeBufferPointer<UInt8>) throws {
        let writer: SortedFileWriter
        if let open = current, open.count < keysPerFile {
            writer = open
        } else {
            try closeCurrent()
            writer = try database.sortedFileWriter(path: directory + "/changes-\(finished.count + 1).sst", compressed: false, filtered: false,
                                                   cached: false)
            current = writer
        }
        Keys.renumber(&key, position)
        try writer.put(key, value)
    }

    /// Encodes a golden record ahead of ``putGoldens(_:)``, which uses the bytes if the state
    /// has not changed since (the same event count: every event folded adds one). `number`
    /// names the draft (see ``WriteSink/draftGolden(_:number:)``); a record is drafted at
    /// most once, its stale draft dropped by ``dropDraft(_:)``.
    func draft(_ state: SubjectState, number: Int) {
        if number >= drafts.count { drafts.append(contentsOf: repeatElement(nil, count: number + 1 - drafts.count)) }
        drafts[number] = Draft(eventCount: state.eventCount, key: Keys.goldenKey(state.subject), encoded: state.encoded())
    }

    /// Drops draft `number` (stale, and not replaced by another).
    func dropDraft(_ number: Int) {
        if drafts.indices.contains(number) { drafts[number] = nil }
    }

    /// The draft numbered `number` when it holds `state` (nil when there is none or it is stale).
    private func draft(_ number: Int?, for state: SubjectState) -> Draft? {
        guard let number, drafts.indices.contains(number) else { return nil }
        return Self.current(drafts[number], for: state)
    }

    /// Takes draft `number` of `state`'s golden record out: its bytes when it is the state
    /// drafted, nil when there is none or it is stale. For a record written another way
    /// (leaving the fold's cache): the end will not need its draft.
    func takeDraft(number: Int?, of state: SubjectState) -> [UInt8]? {
        defer { if let number, drafts.indices.contains(number) { drafts[number] = nil } }
        return draft(number, for: state)?.encoded
    }

    /// Where a record's attribute table lies in an element of a list of records and drafts.
    private static let attributesOffset = MemoryLayout<(state: SubjectState, draft: Int?)>.offset(of: \.state)!
        + MemoryLayout<SubjectState>.offset(of: \.attributes)!

    /// Asks for the golden records encoded next to be brought into the caches (a hint:
    /// ``Prefetch``), one link of each record's chain a record. `ahead(k)` is the index in
    /// `records` of the record encoded `k` after the current one, nil when there is none or
    /// it needs no encoding: the attribute table of the third, the statements of the second
    /// (whose table the call before asked for), the strings of the next one's statements.
    /// Records encoded at the end of a replay or a bulk load have gone cold, and those loads
    /// otherwise miss one after the other: 72 % of `AttributeState.encode`'s own time was the
    /// first load of each attribute's statements (perf, the registry snapshot's rebuild), and
    /// with those hinted, a third of the end's samples were the first touch of a record's strings.
    @inline(__always)
    static func prefetch(_ records: borrowing [(state: SubjectState, draft: Int?)], ahead: (Int) -> Int?) {
        if let third = ahead(3) { AttributeTable.prefetchStorage(at: third, of: records, offset: attributesOffset) }
        if let second = ahead(2) { AttributeTable.prefetchStatements(at: second, of: records, offset: attributesOffset) }
        if let next = ahead(1) { AttributeTable.prefetchStatementStrings(at: next, of: records, offset: attributesOffset) }
    }

    /// Writes golden records into files of their own, in key order: two files of adjacent key
    /// ranges, written on two threads at once (the end of a replay has nothing else to do
    /// meanwhile), from their drafts where the state is the one drafted (key and bytes both:
    /// a state is not copied, nor its key built again), the others encoded there.
    /// - Throws: ``RocksDBError`` for a failed write.
    /// - Parameter records: each state with the number of its last draft (nil: none).
    func putGoldens(_ records: [(state: SubjectState, draft: Int?)]) throws {
        var gathered: (keys: [[UInt8]], drafted: [[UInt8]?]) = ([], [])
        gathered.keys.reserveCapacity(records.count)
        gathered.drafted.reserveCapacity(records.count)
        for i in records.indices {
            if let draft = draft(records[i].draft, for: records[i].state) {
                gathered.keys.append(draft.key)
                gathered.drafted.append(draft.encoded)
            } else {
                gathered.keys.append(Keys.goldenKey(records[i].state.subject))
                gathered.drafted.append(nil)
            }
        }
        // Tens of thousands of allocations: freed on a thread of their own, not by the end.
        let retired = drafts
        drafts = []
        Thread.detachNewThread { withExtendedLifetime(retired) {} }
        guard !records.isEmpty else { return }
        let (keys, drafted) = gathered
        let order = bytewiseOrder(keys)
        let halves = [order[..<(order.count / 2)], order[(order.count / 2)...]]
        let first = finished.count + 1
        let written = Mutex<[Result<SortedFile?, any Error>]>(Array(repeating: .success(nil), count: halves.count))
        DispatchQueue.concurrentPerform(iterations: halves.count) { part in
            let result = Result<SortedFile?, any Error> {
                let writer = try database.sortedFileWriter(path: directory + "/goldens-\(first + part).sst", compressed: false)
                var encoded = BinaryWriter(capacity: 4096)
                let half = halves[part]
                for n in half.indices {
                    let i = half[n]
                    func ahead(_ k: Int) -> Int? { n + k < half.endIndex && drafted[half[n + k]] == nil ? half[n + k] : nil }
                    // Records in key order lie anywhere in memory: each slot is hinted too.
                    if let slot = ahead(5) { Prefetch.element(slot, of: records, lines: 2) }
                    Self.prefetch(records, ahead: ahead)
                    if let bytes = drafted[i] {
                        try writer.put(keys[i], bytes)
                        continue
                    }
                    encoded.removeAll()
                    records[i].state.encode(into: &encoded)
                    try encoded.withBytes { try writer.put(keys[i], $0) }
                }
                return try writer.finish() ? writer.file : nil
            }
            written.withLock { $0[part] = result }
        }
        for result in written.withLock({ $0 }) {
            if let file = try result.get() { finished.append(file) }
        }
    }

    /// Keeps a small write (a put, or a delete when `value` is nil) for ``ingest()``; a later
    /// one for the same key replaces it. Keys must lie in the derived range and not be
    /// change keys, nor read by the replay.
    func putSmall(_ key: [UInt8], _ value: [UInt8]?) {
        assert(smallFiles == nil, "a small write after startWritingSmall() would be lost")
        small.append(key, value)
    }

    /// Writes the kept small writes into two files, the keys below the change feed's and
    /// those above (files ingested together must not overlap), and returns their paths. A
    /// delete needs no record: the replay deleted the whole derived range first.
    private static func writeSmall(_ small: SmallWrites, database: Database, directory: String) throws -> [SortedFile] {
        var paths: [SortedFile] = []
        var writer: SortedFileWriter?
        var part = 0
        try small.forEachLatest { key, value in
            let wanted = key.first.map { $0 > Keys.change } == true ? 2 : 1
            if wanted != part {
                if let open = writer, try open.finish() { paths.append(open.file) }
                part = wanted
                writer = try database.sortedFileWriter(path: directory + "/small-\(part).sst", compressed: false)
            }
            try writer?.put(key: key, value: value)
        }
        if let open = writer, try open.finish() { paths.append(open.file) }
        return paths
    }

    /// The files of the small writes, being sorted and written on a thread of their own (see
    /// ``startWritingSmall()``).
    private var smallFiles: Promise<[SortedFile]>?

    /// Starts sorting and writing the kept small writes on a thread of its own, while the
    /// caller writes the golden records (``putGoldens(_:)``); ``ingest()`` waits for them.
    /// Sorted and written after the golden records, they were a third of a replay's end, on
    /// one core. No small write may be kept after this.
    func startWritingSmall() {
        guard smallFiles == nil else { return }
        let files = Promise<[SortedFile]>()
        let (kept, database, directory) = (small, database, directory)
        small = SmallWrites()
        // A thread of its own, not the dispatch pool: the golden records' two halves are
        // written with `concurrentPerform`, which would otherwise find the pool busy.
        Thread.detachNewThread {
            files.complete(Result { try ReplayFiles.writeSmall(kept, database: database, directory: directory) })
        }
        smallFiles = files
    }

    private func closeCurrent() throws {
        guard let open = current else { return }
        current = nil
        if try open.finish() { finished.append(open.file) }
    }

    /// Completes the files and moves them into the database (one ingest per column family),
    /// then removes the directory. Call after every other write of the replay is in the
    /// database.
    /// - Returns: the number of files ingested.
    @discardableResult
    func ingest() throws -> Int {
        try closeCurrent()
        startWritingSmall()   // unless the caller started them beside its golden records
        if let pending = smallFiles {
            finished += try pending.wait()
            smallFiles = nil
        }
        try database.ingest(finished)
        // Ingested files were moved into the store; what is left is empty directories.
        try? FileManager.default.removeItem(atPath: directory)
        return finished.count
    }
}
