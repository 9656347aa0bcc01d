import JSON
import YidangMatching
import YidangModel
import YidangProjection

/// A ``WriteSink`` that keeps the records it is given, unencoded (change records excepted,
/// see below), so that encoding them and writing them to RocksDB can happen on another
/// thread than the fold.
///
/// Records are values (copy-on-write), so the fold may go on changing its own copies. The
/// writes are replayed kind by kind, each kind in the order given: every kind has its own
/// key prefix, so two writes to one key are always of one kind and keep their order, and
/// the batch means exactly what the calls meant. Grouped, the change records (and log
/// records) reach RocksDB as runs of ascending keys, which the memtable's skiplist inserts
/// next to each other; each kind's own array also avoids giving every small put the
/// ~240-byte stride of a change record.
final class DeferredWrites: WriteSink, @unchecked Sendable {
    /// Raw puts and deletes (indexes, links, counters) in call order; nil value: a delete.
    private var keys: [[UInt8]] = []
    private var values: [[UInt8]?] = []
    /// Change records, encoded as they arrive (on the folding thread: a record kept for another
    /// thread has every string in it retained and released there too, each a cache line the two
    /// cores then pass back and forth), one after another.
    private var changeBytes = BinaryWriter(capacity: 0)
    /// Where each encoded change record ends in `changeBytes`, and its change position.
    private var changeEnds: [Int] = []
    private var changePositions: [UInt64] = []
    private var conflicts: [Conflict] = []
    /// Golden records, and the numbers of their last drafts (a replay's).
    private var goldens: [(state: SubjectState, draft: Int?)] = []
    /// Golden records offered as drafts (a replay's; see ``WriteSink/draftGolden(_:number:)``).
    private var drafts: [(state: SubjectState, number: Int)] = []
    /// Drafts gone stale, to drop (numbers never drafted again).
    private var droppedDrafts: [Int] = []
    private var events: [Event] = []
    private var blocking: [BlockingEntries] = []
    /// The rules `blocking`'s keys are worked out by, by kind (the same for every entry).
    private var blockingRules: [BlockingKeys?] = []

    /// Whether its golden records have gone cold (a bulk load's, written late at its end):
    /// then they are hinted into the caches ahead of their encoding (``ReplayFiles/prefetch``).
    /// A group's records were just folded, and need no hint.
    private let coldGoldens: Bool

    /// - Parameter events: about how many events the writes are for (to reserve space).
    /// - Parameter coldGoldens: whether its golden records have gone cold (see above).
    init(events expected: Int = 0, coldGoldens: Bool = false) {
        self.coldGoldens = coldGoldens
        keys.reserveCapacity(expected * 2)
        values.reserveCapacity(expected * 2)
        changeBytes.reserve(expected * 256)
        changeEnds.reserveCapacity(expected)
        changePositions.reserveCapacity(expected)
        events.reserveCapacity(expected)
    }

    var count: Int { keys.count + changeEnds.count + conflicts.count + goldens.count + events.count + blocking.count * 4 }

    func put(_ key: [UInt8], _ value: [UInt8]) { keys.append(key); values.append(value) }
    func delete(_ key: [UInt8]) { keys.append(key); values.append(nil) }
    func putChange(_ change: ChangeRecord) {
        change.encode(into: &changeBytes)
        changeEnds.append(changeBytes.count)
        changePositions.append(change.position)
    }

    /// Calls `body` with each change record's position and stored form, in the order given.
    private func forEachChange(_ body: (UInt64, UnsafeBufferPointer<UInt8>) throws -> Void) rethrows {
        try changeBytes.withBytes { all in
            var start = 0
            for (end, position) in zip(changeEnds, changePositions) {
                try body(position, UnsafeBufferPointer(rebasing: all[start..<end]))
                start = end
            }
        }
    }
    func putConflict(_ conflict: Conflict) { conflicts.append(conflict) }
    func putGolden(_ state: SubjectState) { goldens.append((state, nil)) }
    func putGolden(_ state: SubjectState, draft: Int?) { goldens.append((state, draft)) }
    func draftGolden(_ state: SubjectState, number: Int) { drafts.append((state, number)) }
    func dropDraft(_ number: Int) { droppedDrafts.append(number) }
    /// The log record of a positioned event.
    func putEvent(_ event: Event) { events.append(event) }
    func putBlocking(_ entries: BlockingEntries, rules: [BlockingKeys?]) {
        if blockingRules.isEmpty { blockingRules = rules }
        blocking.append(entries)
    }

    /// Encodes every write into `sink`, kind by kind.
    func replay(into sink: some WriteSink) {
        for e in events { sink.put(Keys.logKey(e.position), e.encoded()) }
        forEachChange { position, value in sink.put(Keys.changeKey(position), Array(value)) }
        for c in conflicts { sink.putConflict(c) }
        for i in goldens.indices {
            if coldGoldens { ReplayFiles.prefetch(goldens) { k in i + k < goldens.count ? i + k : nil } }
            sink.putGolden(goldens[i].state)
        }
        for (k, v) in zip(keys, values) {
            if let v { sink.put(k, v) } else { sink.delete(k) }
        }
        for b in blocking { b.forEachEntry(by: blockingRules) { sink.put($0, []) } }
    }

    /// Encodes every write into `sink` but the change records and the raw puts and deletes,
    /// which go to `replayFiles` (a rebuild's change feed, links, counters and indexes,
    /// written straight into table files). Golden records and conflicts stay in `sink`: the
    /// fold reads back those that leave its caches.
    /// - Throws: the table file's error (a failed write, positions not ascending).
    func replay(into sink: some WriteSink, replayFiles: ReplayFiles) throws {
        for e in events { sink.put(Keys.logKey(e.position), e.encoded()) }
        try forEachChange { position, value in try replayFiles.putChange(position: position, encoded: value) }
        for c in conflicts { sink.putConflict(c) }
        for d in drafts { replayFiles.draft(d.state, number: d.number) }
        for number in droppedDrafts { replayFiles.dropDraft(number) }
        // Written now (they leave the fold's cache), from their drafts where those are current:
        // a record drafted once its subject went quiet is most often unchanged when it leaves,
        // and encoding golden records was the largest part of this thread's work in a long
        // replay (two fifths, in a perf profile at 10⁶ events).
        for g in goldens {
            if let encoded = replayFiles.takeDraft(number: g.draft, of: g.state) {
                sink.put(Keys.goldenKey(g.state.subject), encoded)
            } else {
                sink.putGolden(g.state)
            }
        }
        for (k, v) in zip(keys, values) { replayFiles.putSmall(k, v) }
        for b in blocking { b.forEachEntry(by: blockingRules) { replayFiles.putSmall($0, []) } }
    }
}
