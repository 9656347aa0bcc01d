import YidangModel
import YidangProjection

/// A ``WriteSink`` that keeps the records it is given, unencoded, in order, so that
/// encoding them and writing them to RocksDB can happen on another thread than the fold.
///
/// Records are values (copy-on-write), so the fold may go on changing its own copies; the
/// writes mean exactly what the same calls on a ``WriteBatch`` would have meant.
final class DeferredWrites: WriteSink, @unchecked Sendable {
    private enum Write {
        case put([UInt8], [UInt8])
        case delete([UInt8])
        case change(ChangeRecord)
        case conflict(Conflict)
        case golden(SubjectState)
        case event(Event)
    }
    private var writes: [Write] = []

    init(capacity: Int = 0) { writes.reserveCapacity(capacity) }

    var count: Int { writes.count }

    func put(_ key: [UInt8], _ value: [UInt8]) { writes.append(.put(key, value)) }
    func delete(_ key: [UInt8]) { writes.append(.delete(key)) }
    func putChange(_ change: ChangeRecord) { writes.append(.change(change)) }
    func putConflict(_ conflict: Conflict) { writes.append(.conflict(conflict)) }
    func putGolden(_ state: SubjectState) { writes.append(.golden(state)) }
    /// The log record of a positioned event.
    func putEvent(_ event: Event) { writes.append(.event(event)) }

    /// Encodes every write, in the order given, into `sink`.
    func replay(into sink: some WriteSink) {
        for w in writes {
            switch w {
            case let .put(k, v): sink.put(k, v)
            case let .delete(k): sink.delete(k)
            case let .change(c): sink.putChange(c)
            case let .conflict(c): sink.putConflict(c)
            case let .golden(s): sink.putGolden(s)
            case let .event(e): sink.put(Keys.logKey(e.position), e.encoded())
            }
        }
    }
}
