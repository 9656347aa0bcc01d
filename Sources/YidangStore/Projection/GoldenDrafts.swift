import Synchronization
import YidangModel
import YidangProjection

/// Golden records encoded ahead of the moment they are written, by number (see
/// ``WriteSink/draftGolden(_:number:)``): a record whose subject went quiet is encoded beside
/// the fold, and its bytes are written when it leaves the fold's cache or the work ends,
/// unless it changed since. Not thread-safe (``GoldenDrafts`` is).
struct GoldenDraftTable {
    /// A record's subject, key and bytes, and the event count it was encoded at.
    struct Draft: Sendable {
        let subject: Subject
        let eventCount: UInt64
        let key: [UInt8]
        let encoded: [UInt8]

        /// Encodes `state` (the costly part: done outside any lock).
        init(_ state: SubjectState) {
            subject = state.subject
            eventCount = state.eventCount
            key = Keys.goldenKey(state.subject)
            encoded = state.encoded()
        }
    }

    /// By draft number; nil where dropped, taken, or never offered.
    private(set) var drafts: [Draft?] = []

    /// Keeps `draft` as number `number` (a number is offered once).
    mutating func store(_ draft: Draft, number: Int) {
        if number >= drafts.count { drafts.append(contentsOf: repeatElement(nil, count: number + 1 - drafts.count)) }
        drafts[number] = draft
    }

    /// Drops draft `number` (stale, and not replaced by another).
    mutating func drop(_ number: Int) {
        if drafts.indices.contains(number) { drafts[number] = nil }
    }

    /// Draft `number` when it holds `state`, nil when there is none or it is stale. The
    /// writer names only a draft that holds the record as it is
    /// (``CachedState/currentDraft``); the subject and the event count, which every event
    /// folded raises, are checked as well.
    func current(_ number: Int?, for state: SubjectState) -> Draft? {
        guard let number, drafts.indices.contains(number), let draft = drafts[number],
              draft.eventCount == state.eventCount, draft.subject == state.subject else { return nil }
        return draft
    }

    /// Takes draft `number` out: its bytes when it holds `state`, nil when there is none or
    /// it is stale. For a record written now: nothing will need its draft again.
    mutating func take(_ number: Int?, of state: SubjectState) -> [UInt8]? {
        defer { if let number { drop(number) } }
        return current(number, for: state)?.encoded
    }

    /// Empties the table and returns what it held (to be freed where the caller likes).
    mutating func removeAll() -> [Draft?] {
        defer { drafts = [] }
        return drafts
    }
}

/// Where a sink's drafts go: ``ReplayFiles`` for a replay, ``GoldenDrafts`` for a bulk load.
protocol GoldenDraftStore: AnyObject {
    /// Encodes `state` as draft `number`.
    func draft(_ state: SubjectState, number: Int)
    /// Drops draft `number`, gone stale.
    func dropDraft(_ number: Int)
    /// The bytes of draft `number` when it holds `state` (nil otherwise), taken out.
    func takeDraft(number: Int?, of state: SubjectState) -> [UInt8]?
}

/// A bulk load's drafts, shared by the threads that encode its groups (each group's drafts
/// are encoded with the group, on a thread of its own; a later group may take them).
///
/// A group encoded before an earlier one has stored a draft finds none and encodes the
/// record itself: the same bytes, only slower. A draft stored after the record was written
/// is never taken, and is freed with the table at the end of the load.
final class GoldenDrafts: GoldenDraftStore, Sendable {
    private let table = Mutex(GoldenDraftTable())

    init() {}

    func draft(_ state: SubjectState, number: Int) {
        let draft = GoldenDraftTable.Draft(state)
        table.withLock { $0.store(draft, number: number) }
    }

    func dropDraft(_ number: Int) { table.withLock { $0.drop(number) } }

    func takeDraft(number: Int?, of state: SubjectState) -> [UInt8]? {
        guard number != nil else { return nil }
        return table.withLock { $0.take(number, of: state) }
    }

    /// Empties the table and returns what it held, to be freed where the caller likes.
    func removeAll() -> [GoldenDraftTable.Draft?] { table.withLock { $0.removeAll() } }
}
