import YidangModel
import YidangProjection

/// A ``WriteSink`` that keeps the records it is given, unencoded, so that encoding them and
/// writing them to RocksDB can happen on another thread than the fold.
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
    private var changes: [ChangeRecord] = []
    private var conflicts: [Conflict] = []
    private var goldens: [SubjectState] = []
    private var events: [Event] = []

    /// - Parameter events: about how many events the writes are for (to reserve space).
    init(events expected: Int = 0) {
        keys.reserveCapacity(expected * 2)
        values.reserveCapacity(expected * 2)
        changes.reserveCapacity(expected)
        events.reserveCapacity(expected)
    }

    var count: Int { keys.count + changes.count + conflicts.count + goldens.count + events.count }

    func put(_ key: [UInt8], _ value: [UInt8]) { keys.append(key); values.append(value) }
    func delete(_ key: [UInt8]) { keys.append(key); values.append(nil) }
    func putChange(_ change: ChangeRecord) { changes.append(change) }
    /// Moves the records over instead of copying them (a copy retains every field of a record,
    /// and dropping the original releases them again).
    func putChanges(_ moved: inout [ChangeRecord]) {
        moved.reverse()
        while let change = moved.popLast() { changes.append(change) }
    }
    func putConflict(_ conflict: Conflict) { conflicts.append(conflict) }
    func putGolden(_ state: SubjectState) { goldens.append(state) }
    /// The log record of a positioned event.
    func putEvent(_ event: Event) { events.append(event) }

    /// Encodes every write into `sink`, kind by kind.
    func replay(into sink: some WriteSink) {
        for e in events { sink.put(Keys.logKey(e.position), e.encoded()) }
        for c in changes { sink.putChange(c) }
        replayRecords(into: sink)
    }

    /// Encodes every write into `sink` but the change records, which go to `replayFiles`
    /// (a rebuild's change feed, written straight into table files).
    /// - Throws: the table file's error (a failed write, positions not ascending).
    func replay(into sink: some WriteSink, replayFiles: ReplayFiles) throws {
        for e in events { sink.put(Keys.logKey(e.position), e.encoded()) }
        // Lent, not copied out of the array: a copy retains and releases every field.
        try changes.withUnsafeBufferPointer { records in
            for i in records.indices { try replayFiles.putChange(records[i]) }
        }
        replayRecords(into: sink)
    }

    private func replayRecords(into sink: some WriteSink) {
        for c in conflicts { sink.putConflict(c) }
        for s in goldens { sink.putGolden(s) }
        for (k, v) in zip(keys, values) {
            if let v { sink.put(k, v) } else { sink.delete(k) }
        }
    }
}
