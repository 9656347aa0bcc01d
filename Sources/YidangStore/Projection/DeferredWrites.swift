import YidangModel
import YidangProjection

/// A ``WriteSink`` that keeps the records it is given, unencoded, in order, so that
/// encoding them and writing them to RocksDB can happen on another thread than the fold.
///
/// Records are values (copy-on-write), so the fold may go on changing its own copies; the
/// writes mean exactly what the same calls on a ``WriteBatch`` would have meant. Each kind
/// of record has its own array and the order is kept as (kind, index) pairs: one array of
/// an enum would give every small put the stride of the largest record (a change record
/// is about 240 bytes).
final class DeferredWrites: WriteSink, @unchecked Sendable {
    private enum Kind: UInt8 { case put, delete, change, conflict, golden, event }
    private var order: [(kind: Kind, index: Int32)] = []
    private var keys: [[UInt8]] = []
    private var values: [[UInt8]] = []
    private var changes: [ChangeRecord] = []
    private var conflicts: [Conflict] = []
    private var goldens: [SubjectState] = []
    private var events: [Event] = []

    /// - Parameter events: about how many events the writes are for (to reserve space).
    init(events expected: Int = 0) {
        order.reserveCapacity(expected * 5)
        keys.reserveCapacity(expected * 2)
        values.reserveCapacity(expected * 2)
        changes.reserveCapacity(expected)
        events.reserveCapacity(expected)
    }

    var count: Int { order.count }

    func put(_ key: [UInt8], _ value: [UInt8]) {
        order.append((.put, Int32(keys.count)))
        keys.append(key)
        values.append(value)
    }
    func delete(_ key: [UInt8]) {
        order.append((.delete, Int32(keys.count)))
        keys.append(key)
        values.append([])
    }
    func putChange(_ change: ChangeRecord) { order.append((.change, Int32(changes.count))); changes.append(change) }
    func putConflict(_ conflict: Conflict) { order.append((.conflict, Int32(conflicts.count))); conflicts.append(conflict) }
    func putGolden(_ state: SubjectState) { order.append((.golden, Int32(goldens.count))); goldens.append(state) }
    /// The log record of a positioned event.
    func putEvent(_ event: Event) { order.append((.event, Int32(events.count))); events.append(event) }

    /// Encodes every write, in the order given, into `sink`.
    func replay(into sink: some WriteSink) {
        for (kind, index) in order {
            let i = Int(index)
            switch kind {
            case .put: sink.put(keys[i], values[i])
            case .delete: sink.delete(keys[i])
            case .change: sink.putChange(changes[i])
            case .conflict: sink.putConflict(conflicts[i])
            case .golden: sink.putGolden(goldens[i])
            case .event: sink.put(Keys.logKey(events[i].position), events[i].encoded())
            }
        }
    }
}
