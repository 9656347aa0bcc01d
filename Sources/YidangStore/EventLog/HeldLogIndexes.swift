import Foundation
import RocksDB
import YidangModel

/// The log's own indexes (the subject index's runs and the idempotency keys) of a bulk load
/// into an empty store, held in memory and written once, when the load ends.
///
/// Written with each group, those entries were level-0 files that the load's closing merge
/// read and wrote again: in the registry snapshot's import, 400,000 of the 402,000 records it
/// merged. Held, they are written at the end in files of their own, whose key range no stored
/// file reaches into, so RocksDB ingests them below level 0 where no merge reads them; and
/// each subject's positions make one run instead of one per group.
///
/// The fold's thread, the load's bottleneck, does as little as it can: it keeps each key's
/// position in a table (a repeat within the load is looked up there) and each subject's
/// positions in a list in log order; the runs are gathered on the thread that writes them.
///
/// It pays only when the end's merge can be skipped: a load whose golden records are not all
/// held (its subjects do not come back, or do not fit) writes records into level 0 and ends
/// with a merge anyway. Such a load is told so when its input's count is in (``release()``),
/// and the entries held until then go with its next group.
///
/// Guarantees, while ``isHolding``:
/// - every event the load appended (durable or not) is here: its idempotency key with its
///   position, and its position under its subject, until ``take()``, also after they were
///   put into a group (``spill(into:)``), which may not be durable yet;
/// - at most ``limit`` events are held; past it, ``isHolding`` turns false and the writer
///   writes later events' entries with their groups, as outside a load (memory stays
///   bounded: about 125 bytes an event, by the peak RSS of the registry snapshot's import,
///   200,000 events, three alternations with and without: median 397,380 → 422,416 KB);
/// - the store's load marker says the indexes are held (`Keys.loadMarkerHeldIndexes`), so a
///   process that stops before the end leaves a directory whose next writer rebuilds both
///   indexes from the log (``LogIndexRebuild``) before anything reads them.
///
/// Owned by the writer (`EventStore`): only its actor touches it, including through the
/// projection's history reads, which the actor makes.
final class HeldLogIndexes {
    /// The most events held (`EventStore.heldIndexLimit` unless a test says otherwise).
    let limit: Int
    private(set) var isHolding = false
    /// Released with entries not yet put into a group: the next group takes them.
    private(set) var spillDue = false
    /// The entries were put into a group: they stay for lookups, and are not written again.
    private var spilled = false
    private var positions: [ByteKey: UInt64] = [:]
    private var subjects: [(subject: Subject, position: UInt64)] = []

    init(limit: Int) { self.limit = limit }

    /// What a load held: each idempotency key's position, and each event's subject in log order.
    struct Held: Sendable {
        let positions: [ByteKey: UInt64]
        let subjects: [(subject: Subject, position: UInt64)]
    }

    /// Whether entries wait to be written at the load's end.
    var waitsToBeWritten: Bool { !positions.isEmpty && !spilled }

    /// Starts holding (a fresh load).
    func start() { isHolding = true }

    /// Stops holding: the entries held so far are due with the next group (``spill(into:)``).
    func release() {
        isHolding = false
        spillDue = waitsToBeWritten
    }

    /// Puts every entry held into `batch` (the group after ``release()``), keeping them for
    /// lookups until the load ends: that group may not be durable when the next is built.
    func spill(into batch: DeferredWrites) {
        let held = Held(positions: positions, subjects: subjects)
        for run in held.runs() { batch.put(run.key, run.value) }
        for (identity, position) in positions { batch.put(identity.bytes, Keys.be(position)) }
        spillDue = false
        spilled = true
    }

    /// Holds the entries of the event at `position`; past ``limit``, stops holding.
    func add(_ identity: ByteKey, subject: Subject, position: UInt64) {
        positions[identity] = position
        subjects.append((subject, position))
        if positions.count >= limit { isHolding = false }
    }

    /// The position held for an idempotency key, if any.
    func position(of identity: ByteKey) -> UInt64? { positions[identity] }

    /// The positions held for `subject`, in order: one pass over the list, for a refold
    /// during the load (an unmerge), which is rare.
    func positions(of subject: Subject) -> [UInt64] {
        subjects.lazy.filter { $0.subject == subject }.map(\.position)
    }

    /// Hands over everything held and forgets it (the load's end).
    func take() -> Held {
        defer {
            positions = [:]
            subjects = []
            isHolding = false
            spillDue = false
            spilled = false
        }
        return Held(positions: positions, subjects: subjects)
    }
}

extension HeldLogIndexes.Held {
    /// Writes the subject index, one run per subject, into a compressed table file at `path`
    /// (in a fresh load no stored key falls in its range: RocksDB ingests it into the last
    /// level, where it stays). Returns the path, or none when nothing was held.
    /// - Throws: ``RocksDBError`` when the file cannot be written.
    func writeRuns(database: Database, path: String) throws -> [SortedFile] {
        let runs = runs()
        let keys = runs.map(\.key)
        let writer = try database.sortedFileWriter(path: path, compressed: true)
        for i in bytewiseOrder(keys) { try writer.put(keys[i], runs[i].value) }
        return try Self.finish(writer)
    }

    /// Writes the idempotency keys into a compressed table file at `path`, as
    /// ``writeRuns(database:path:)`` does the subject index.
    /// - Throws: ``RocksDBError`` when the file cannot be written.
    func writeKeys(database: Database, path: String) throws -> [SortedFile] {
        var keys: [[UInt8]] = []
        var values: [UInt64] = []
        keys.reserveCapacity(positions.count)
        values.reserveCapacity(positions.count)
        for (identity, position) in positions {
            keys.append(identity.bytes)
            values.append(position)
        }
        let writer = try database.sortedFileWriter(path: path, compressed: true)
        for i in bytewiseOrder(keys) { try writer.put(keys[i], Keys.be(values[i])) }
        return try Self.finish(writer)
    }

    /// One run per subject.
    func runs() -> [SubjectRun] {
        var runs: [SubjectRun] = []
        var slot: [Subject: Int] = [:]
        slot.reserveCapacity(subjects.count / 2)
        for (subject, position) in subjects {
            // Positions come in log order, so each extends its subject's run.
            if let i = slot[subject], runs[i].extend(subject, position) { continue }
            slot[subject] = runs.count
            runs.append(SubjectRun(subject: subject, position: position))
        }
        return runs
    }

    /// The file's path once finished, or none for a file given no key (never finished, so
    /// never part of the store: failing to remove it loses nothing).
    private static func finish(_ writer: SortedFileWriter) throws -> [SortedFile] {
        if try writer.finish() { return [writer.file] }
        try? FileManager.default.removeItem(atPath: writer.path)
        return []
    }
}
