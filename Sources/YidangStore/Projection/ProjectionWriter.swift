import JSON
import RocksDB
import YidangMatching
import YidangModel
import YidangProjection

/// Receives the writes of a group of events. A RocksDB ``WriteBatch`` in production.
///
/// The record writes encode at once by default; ``DeferredWrites`` keeps the records and
/// encodes them later, on another thread.
protocol WriteSink {
    func put(_ key: [UInt8], _ value: [UInt8])
    func delete(_ key: [UInt8])
    func putChange(_ change: ChangeRecord)
    func putConflict(_ conflict: Conflict)
    func putGolden(_ state: SubjectState)
    /// Like ``putGolden(_:)``, for a record drafted before (`draft`: the number of its last
    /// draft, nil when none), whose bytes a replay may write instead of encoding it again.
    func putGolden(_ state: SubjectState, draft: Int?)
    /// Offers a golden record that may not change again, to be encoded ahead of a replay's
    /// end (``ReplayFiles/draft(_:number:)``); nothing is written. Drafts are numbered
    /// 0, 1, 2… in the order offered. Ignored by default.
    func draftGolden(_ state: SubjectState, number: Int)
    /// Drops draft `number`, gone stale (its record changed since). Ignored by default.
    func dropDraft(_ number: Int)
    /// A record's new blocking-index entries; their keys are worked out when written (at
    /// once by default; ``DeferredWrites`` leaves it to the thread that encodes the batch),
    /// by `rules` (by kind, its storage byte: ``IdentityLedger/entryRules``).
    func putBlocking(_ entries: BlockingEntries, rules: [BlockingKeys?])
}

extension WriteSink {
    func putChange(_ change: ChangeRecord) { put(Keys.changeKey(change.position), change.encoded()) }
    func putConflict(_ conflict: Conflict) { put(Keys.conflictKey(conflict.id), conflict.encoded()) }
    func putGolden(_ state: SubjectState) { put(Keys.goldenKey(state.subject), state.encoded()) }
    func putGolden(_ state: SubjectState, draft: Int?) { putGolden(state) }
    func draftGolden(_ state: SubjectState, number: Int) {}
    func dropDraft(_ number: Int) {}
    func putBlocking(_ entries: BlockingEntries, rules: [BlockingKeys?]) { entries.forEachEntry(by: rules) { put($0, []) } }
}

extension WriteBatch: WriteSink {}
extension OrderedWriteBatch: WriteSink {}

/// The live writer's projection: golden records written with every batch that changes them.
typealias LiveProjectionWriter = ProjectionWriter<GoldenRecordsWithEachBatch>
/// A replay's projection (rebuild, verify): golden records written once, late.
typealias ReplayProjectionWriter = ProjectionWriter<GoldenRecordsLate>

/// A cached golden-record state and the last batch that changed it.
struct CachedState {
    var state: SubjectState
    var changedInBatch: UInt64 = 0
    /// Changed since it was last written (used when golden records are written late).
    var unwritten = false
    /// Writing late: the number of the record's last draft, nil when none. The draft is
    /// found by it, not by hashing the subject (see ``WriteSink/draftGolden(_:number:)``).
    var draft: Int?
    /// Whether the last draft holds the state as it is now: set by ``drafted(as:)``, cleared
    /// by every change (``markChanged(in:)``). A steward's decision (merge, reject, unmerge)
    /// changes a record without folding an event into it, so its event count cannot tell a
    /// stale draft; this can.
    var draftIsCurrent = false
    /// The number of the record's last draft while it holds the state as it is now, else nil.
    var currentDraft: Int? { draftIsCurrent ? draft : nil }
    /// Writing late: whether the record changed after a draft of it, so is not drafted again
    /// (the live writer during a bulk load: after it was written early, so is not written
    /// early again).
    var redrafts = true

    /// Marks the state changed by batch `batch`; returns whether it is the batch's first
    /// change of it (then the writer lists its subject as dirty once).
    mutating func markChanged(in batch: UInt64) -> Bool {
        unwritten = true
        draftIsCurrent = false
        guard changedInBatch != batch else { return false }
        changedInBatch = batch
        return true
    }

    /// Notes that draft `number` holds the state as it is now.
    mutating func drafted(as number: Int) {
        draft = number
        draftIsCurrent = true
    }
}

/// When a ``ProjectionWriter`` writes golden records, with the state that needs. The live
/// writer and a replay differ only here; each has its own policy and its own state.
protocol GoldenRecordPolicy {
    init()
    /// Whether records leaving the cache stay readable for one more rotation (three
    /// generations in the same room), so a rotation need not wait for their writes.
    static var keepsLeaving: Bool { get }
    /// Whether a subject that is not cached may have a stored record (else a miss starts
    /// from an empty state without reading).
    func mayBeStored(_ subject: Subject) -> Bool
    /// Notes a subject whose record a batch changed (and will write): from then on it may
    /// be stored.
    mutating func noteChanged(_ subject: Subject)
    /// Whether a batch's misses are read ahead in one lookup.
    static var prefetches: Bool { get }
    /// Whether the writer resolves the identities of records without a national identifier
    /// (the live writer); a replay applies the decisions its log holds.
    static var resolvesIdentities: Bool { get }
    /// Whether the writer writes ``ProjectionWriter/subjectCount`` with the batches that change
    /// it (the live writer); a replay's end writes it once.
    static var writesSubjectCount: Bool { get }
    /// Whether a batch frees only the retired records that are due (``RecentCache/freeRetiredDue()``),
    /// leaving the rest to the writer's idle time (the live writer); a replay has none.
    static var freesWhenIdle: Bool { get }
    /// Writes what the batch (`batch`, whose changed subjects are `dirty`) leaves to write.
    mutating func finishBatch(_ batch: UInt64, dirty: inout [Subject], subjects: inout RecentCache<Subject, CachedState>,
                              into sink: some WriteSink)
    /// Forgets what it knows of the batches (after a failed commit).
    mutating func reset()
    /// The cache now holds every subject there is (``ProjectionWriter/holdEverySubject(of:)``):
    /// no record leaves it before the end.
    mutating func holdsEverySubject()
}

extension GoldenRecordPolicy {
    mutating func holdsEverySubject() {}
}

/// The live writer: each changed record is written once per batch that changes it, and any
/// subject may have a stored record.
///
/// During a bulk load it may write them late instead (``writesLate``): a record is written
/// once when its subject pauses (changed in one batch, not in the next), then only when the
/// cache lets it go or the load ends (``ProjectionWriter/writeLateGoldenRecords(into:)``), so
/// a subject that comes back again and again (a registry snapshot: once per department) is
/// encoded and written about twice, not once per batch that changes it.
struct GoldenRecordsWithEachBatch: GoldenRecordPolicy {
    /// Whether changed records wait in the cache until it lets them go or the load ends.
    /// Only while no one else reads the store's golden records as current: the stored ones
    /// lag the log meanwhile (``EventStore/setBulkLoading(_:)``).
    var writesLate = false
    /// Writing late: the subjects that pause.
    private var pauses = Pauses()
    /// Writing late with a cache that holds every subject of the load
    /// (``holdsEverySubject()``): no record is written when its subject pauses, only at the
    /// end (or should one leave the cache after all).
    ///
    /// Written at pauses, a registry snapshot's records went into level 0 beside the
    /// indexes, and again at the end: RocksDB's closing merge sorted them all, 36 of its 48
    /// MB, written twice (the registry snapshot's import, RocksDB's LOG). Written only at the
    /// end, a fresh load's records are a key range of their own that no stored key falls in,
    /// so RocksDB ingests them below the levels the closing merge writes and never merges them
    /// (``ProjectionWriter/writeLateGoldenRecords(into:)``), and each is encoded once.
    private(set) var holdsEverything = false

    /// The subjects whose golden records the store may hold: every one changed since
    /// ``ProjectionWriter/startGoldenExistence(complete:capacity:)``, and once a census is
    /// adopted every one stored before (``KeyExistence``).
    var storedGoldens = KeyExistence<Subject>(complete: false, capacity: 64)

    init() {}
    static let keepsLeaving = false
    static let prefetches = true
    static let resolvesIdentities = true
    static let writesSubjectCount = true
    static let freesWhenIdle = true
    func mayBeStored(_ subject: Subject) -> Bool { storedGoldens.mayBeStored(subject) }
    mutating func noteChanged(_ subject: Subject) { storedGoldens.noteStored(subject) }
    mutating func finishBatch(_ batch: UInt64, dirty: inout [Subject], subjects: inout RecentCache<Subject, CachedState>,
                              into sink: some WriteSink) {
        if writesLate {
            // A record the previous batch changed and this one did not is likely done (a
            // registry's records come grouped by subject): written now, beside the fold, not
            // in a burst when the cache lets it go or the load ends, when the fold waits for
            // it. One that changes again after that is a subject that comes back (a registry
            // snapshot: once per department): it waits until the cache lets it go or the end.
            if !holdsEverything {
                pauses.forEachPaused(after: batch, subjects: &subjects) { cached in
                    sink.putGolden(cached.state)
                    cached.unwritten = false
                    cached.redrafts = false
                }
            }
            // The records the rotation after this batch's commit drops: the writer rotates
            // with nothing in flight and builds nothing while the cache is full, so nothing
            // changes them before then, and a later miss reads what this batch wrote.
            subjects.forEachRetiring { cached in if cached.unwritten { sink.putGolden(cached.state) } }
            pauses.batchEnded(changed: &dirty)
        } else {
            for subject in dirty {
                subjects.modifyIfPresent(subject) { cached in
                    sink.putGolden(cached.state)
                    cached.unwritten = false
                }
            }
        }
        dirty.removeAll(keepingCapacity: true)
    }
    mutating func reset() { pauses.reset() }
    mutating func holdsEverySubject() { holdsEverything = writesLate }
    /// The load ended: later loads count their subjects anew.
    mutating func endLoad() {
        writesLate = false
        holdsEverything = false
        pauses.reset()
    }
}

/// The subjects that pause: changed in one batch and not in the next. Such a record is likely
/// done (a department's records come grouped by subject). One that changed again after it
/// was handled at a pause (``CachedState/redrafts`` false) is a subject that comes back (a
/// registry snapshot: once per department, tens of thousands of events apart), and is not
/// handled at its later pauses.
struct Pauses {
    /// The records the previous batch changed.
    private var changedInPreviousBatch: [Subject] = []

    /// Calls `body` with each cached record, still unwritten, that batch `batch - 1` changed
    /// and batch `batch` did not.
    func forEachPaused(after batch: UInt64, subjects: inout RecentCache<Subject, CachedState>,
                       _ body: (inout CachedState) -> Void) {
        let previous = batch - 1
        for subject in changedInPreviousBatch {
            subjects.modifyIfPresent(subject) { cached in
                guard cached.unwritten && cached.changedInBatch == previous && cached.redrafts else { return }
                body(&cached)
            }
        }
    }

    /// Remembers the subjects the batch changed (`changed`, left empty).
    mutating func batchEnded(changed: inout [Subject]) {
        swap(&changedInPreviousBatch, &changed)
        changed.removeAll(keepingCapacity: true)
    }

    mutating func reset() { changedInPreviousBatch.removeAll() }
}

/// A replay into an emptied store that no one reads until it completes (a rebuild): a
/// record is written when it leaves the cache, and the rest at the end
/// (``ProjectionWriter/takeUnwrittenStates()``), so a subject whose events span many batches is
/// encoded and written once, not once per batch.
struct GoldenRecordsLate: GoldenRecordPolicy {
    /// The subjects whose records left the cache (and were written). Any other subject not
    /// cached has no record in the emptied store, so a miss need not read it.
    private var leftCache: Set<Subject> = []
    /// The subjects that pause, whose records are drafted.
    private var pauses = Pauses()
    /// Whether paused records are drafted: not once the cache holds every subject of the
    /// log (``holdsEverySubject()``).
    private var draftsPausedRecords = true
    /// The drafts offered so far (the next draft's number).
    private var draftsOffered = 0

    init() {}
    static let keepsLeaving = true
    static let prefetches = false
    static let resolvesIdentities = false
    static let writesSubjectCount = false
    static let freesWhenIdle = false
    func mayBeStored(_ subject: Subject) -> Bool { leftCache.contains(subject) }
    /// A replay's record is stored when it leaves the cache (`leftCache`), not when it changes.
    mutating func noteChanged(_ subject: Subject) {}

    mutating func finishBatch(_ batch: UInt64, dirty: inout [Subject], subjects: inout RecentCache<Subject, CachedState>,
                              into sink: some WriteSink) {
        subjects.forEachRetiring { cached in
            if cached.unwritten {
                sink.putGolden(cached.state, draft: cached.currentDraft)
                leftCache.insert(cached.state.subject)
            }
        }
        if draftsPausedRecords { draftPausedRecords(after: batch, subjects: &subjects, into: sink) }
        pauses.batchEnded(changed: &dirty)
    }

    mutating func reset() { pauses.reset() }

    /// No record leaves the cache before the end, so a draft could only spare the end an
    /// encoding, and the end encodes on every core while the fold runs on one: drafting cost
    /// the fold's thread a lookup for each record a batch changed, and a copy of each drafted
    /// one, for nothing (the registry snapshot's rebuild, `ab.sh`, 12 rounds: median B/A 0.944
    /// wall, 0.932 CPU without).
    mutating func holdsEverySubject() { draftsPausedRecords = false }

    /// A paused record's final form can be encoded now, on the writer's thread, instead of
    /// at the end, when the fold has finished and nothing else is left to do. A later
    /// change makes the draft stale; one that changed after its draft is encoded once,
    /// when it leaves the cache or at the end (drafting it at each pause encoded a
    /// snapshot's records once per department, most of them in vain).
    private mutating func draftPausedRecords(after batch: UInt64, subjects: inout RecentCache<Subject, CachedState>,
                                             into sink: some WriteSink) {
        pauses.forEachPaused(after: batch, subjects: &subjects) { cached in
            if let stale = cached.draft {
                sink.dropDraft(stale)
                cached.draft = nil
                cached.redrafts = false
                return
            }
            sink.draftGolden(cached.state, number: draftsOffered)
            cached.drafted(as: draftsOffered)
            draftsOffered += 1
        }
    }
}

/// Folds events into the derived stores (golden records, conflicts, change feed, links,
/// quality counters) and emits the writes. It caches what it has written so the next
/// event sees it before the batch is committed; it must be the only writer of the
/// derived key space, and its caches are dropped when a commit fails. When it writes
/// golden records is its `Policy`'s business (``LiveProjectionWriter``,
/// ``ReplayProjectionWriter``).
final class ProjectionWriter<Policy: GoldenRecordPolicy> {
    let projector: Projector
    let configuration: Configuration
    /// Reads a key from the committed store (cache misses).
    let load: ([UInt8]) throws -> [UInt8]?
    /// Reads many keys from the committed store at once (``prefetch(_:)``); nil where absent.
    let loadAll: ([[UInt8]]) throws -> [[UInt8]?]

    private(set) var changeHead: UInt64 = 0
    var nextConflictId: UInt64 = 1
    private(set) var projectedPosition: UInt64 = 0
    /// How many golden records the projection holds, at most: one more for each subject first
    /// cached as new (a record a refused decision then left unwritten is counted too); nil
    /// when unknown (a store written before the count was kept, until its next rebuild). What
    /// sizes a replay's subject cache from the start (`Rebuilder`).
    private(set) var subjectCount: UInt64?
    private var subjectCountChanged = false
    var subjects: RecentCache<Subject, CachedState>
    var conflicts: RecentCache<UInt64, Conflict>
    /// Records changed since the last `finishBatch`, for the policy to write.
    var dirtySubjects: [Subject] = []
    /// Numbers the batches, to mark a cached record changed in the current one.
    private(set) var batchNumber: UInt64 = 1
    /// Identity resolution's counters, review tasks and blocking index (see ``IdentityLedger``).
    let identity: IdentityLedger
    let cacheLimit: Int
    /// What the subject cache may grow to while the records it lets go come back (see
    /// ``finishBatch(into:)``); `cacheLimit` where it never grows.
    private(set) var cacheCeiling: Int
    /// Stored golden records read since the last rotation of the subject cache: in a replay,
    /// records the cache let go; for the live writer, any stored record it did not hold.
    private var returns = 0
    /// When golden records are written, and what that needs to remember.
    private var policy = Policy()

    init(configuration: Configuration, cacheLimit: Int = 50_000, cacheCeiling: Int? = nil,
         loadAll: (([[UInt8]]) throws -> [[UInt8]?])? = nil,
         store: IdentityLedger.StoreAccess = .none, trained: [EntityKind: MatchModel] = [:],
         load: @escaping ([UInt8]) throws -> [UInt8]?) throws {
        self.configuration = configuration
        self.identity = IdentityLedger(configuration: configuration, store: store, trained: trained,
                                       keepsRecentEntries: Policy.resolvesIdentities, load: load)
        self.projector = Projector(configuration: configuration)
        self.cacheLimit = cacheLimit
        self.cacheCeiling = max(cacheLimit, cacheCeiling ?? cacheLimit)
        self.subjects = RecentCache(generationSize: cacheLimit / Self.generations, keepsLeaving: Policy.keepsLeaving)
        self.conflicts = RecentCache(generationSize: cacheLimit / Self.generations, keepsLeaving: Policy.keepsLeaving)
        self.load = load
        self.loadAll = loadAll ?? { keys in try keys.map(load) }
        try reloadCounters()
    }

    /// Re-reads the counters and forgets every cached record (after a failed commit).
    func reloadCounters() throws {
        subjects.removeAll()
        conflicts.removeAll()
        prefetched.removeAll()
        returns = 0
        counters.removeAll()
        departments.removeAll()
        dirtyCounters.removeAll()
        dirtySubjects.removeAll(keepingCapacity: true)
        policy.reset()
        changeHead = try load(Keys.derivedMetaKey("changeHead")).map { Keys.readBE($0) } ?? 0
        nextConflictId = try load(Keys.derivedMetaKey("nextConflict")).map { Keys.readBE($0) } ?? 1
        projectedPosition = try load(Keys.derivedMetaKey("projected")).map { Keys.readBE($0) } ?? 0
        // An empty projection (a new store, a replay's emptied range) holds no record, whatever
        // an old count says.
        subjectCount = projectedPosition == 0 ? 0 : try load(Keys.subjectCountHint).map { Keys.readBE($0) }
        subjectCountChanged = false
        try identity.reload()
    }

    /// A subject's stored state, or a new one, to be cached and changed: a new one is counted
    /// into ``subjectCount``.
    func stateToChange(_ subject: Subject) throws -> CachedState {
        let cached = try storedState(subject)
        if cached.state.isUnseen, let n = subjectCount {
            subjectCount = n + 1
            subjectCountChanged = true
        }
        return cached
    }

    /// Lets the subject cache grow up to `ceiling` records while stored records are read
    /// back (a bulk load of registry snapshots; see ``growCacheIfRecordsComeBack()``), or,
    /// with nil, returns it to `cacheLimit` (what it holds beyond that leaves over the next
    /// rotations).
    func setCacheCeiling(_ ceiling: Int?) {
        cacheCeiling = max(cacheLimit, ceiling ?? cacheLimit)
        if ceiling == nil { subjects.resize(toGenerationSize: cacheLimit / Self.generations) }
    }

    /// Generations a cache holds at most: its limit is split among them.
    static var generations: Int { Policy.keepsLeaving ? 3 : 2 }

    /// Whether ``committed()`` would drop cached records.
    var cacheIsFull: Bool { subjects.isFull || conflicts.isFull }

    /// Call after a successful commit with nothing else in flight: bounds the caches.
    /// Every cached record is durable then, so whatever a rotation drops is re-read intact.
    /// Writing late, it may be called with batches still in flight, provided every batch
    /// submitted up to the previous rotation is written: the records a rotation drops left
    /// the young generation before then, and were written then at the latest.
    func committed() {
        subjects.rotateIfFull()
        conflicts.rotateIfFull()
    }

    /// Records the caches retired and have not freed yet.
    var retiredCount: Int { subjects.retiredCount + conflicts.retiredCount }

    /// Frees up to `n` of the records the caches retired; returns whether any are left.
    func freeRetired(atMost n: Int) -> Bool {
        let subjectsLeft = subjects.freeRetired(atMost: n)
        return conflicts.freeRetired(atMost: n) || subjectsLeft
    }


    /// Empties the caches and returns what they held, to be freed where the caller likes.
    func takeCaches() -> RetiredCaches {
        let retired = RetiredCaches(subjects: subjects, conflicts: conflicts)
        subjects.removeAll()
        conflicts.removeAll()
        return retired
    }

    /// Stored states of subjects not cached, read ahead by ``prefetch(_:)`` for the batch being
    /// built; a cache miss takes its subject's from here instead of reading the store.
    var prefetched: [Subject: CachedState] = [:]

    /// Reads the stored states of those of `subjects` that are not cached, in one batched
    /// lookup, for the events about to be applied (until ``finishBatch(into:)``). One lookup per
    /// miss probed the filter of every level-0 file in turn, which a bulk load has a dozen of.
    /// Call it only when every cached change is in the caches (always, between batches): a
    /// subject not cached then has its latest state in the store.
    /// - Throws: what the store's read throws, or a decoding error of a stored record.
    func prefetch(_ subjects: [Subject]) throws {
        // A replay into an emptied store reads nothing (see `storedState`).
        if !Policy.prefetches { return }
        var wanted: [Subject] = []
        var previous: Subject?
        for subject in subjects where subject != previous {
            previous = subject
            // A subject the filter has never seen has no stored record, and a miss makes it
            // new (`storedState`): asked first, it spares the cache's lookup and an entry here.
            // Each one wanted is entered as new at once, which also keeps it from being wanted
            // twice; one the store holds is replaced below. (A set of those seen, grown from
            // empty for every batch, cost more than the lookups it saved.)
            if policy.mayBeStored(subject), !self.subjects.contains(subject), prefetched.index(forKey: subject) == nil {
                prefetched[subject] = CachedState(state: SubjectState(subject: subject))
                wanted.append(subject)
            }
        }
        guard !wanted.isEmpty else { return }
        do {
            let stored = try loadAll(wanted.map { Keys.goldenKey($0) })
            for (subject, bytes) in zip(wanted, stored) {
                guard let bytes else { continue }
                returns += 1
                prefetched[subject] = CachedState(state: try SubjectState(encoded: bytes))
            }
        } catch {
            // Not entered as new when the store was not read: a later batch reads them again.
            for subject in wanted { prefetched.removeValue(forKey: subject) }
            throw error
        }
    }

    /// A subject's stored state (or a new one): what a cache miss loads.
    func storedState(_ subject: Subject) throws -> CachedState {
        if let read = prefetched.removeValue(forKey: subject) { return read }
        if !policy.mayBeStored(subject) { return CachedState(state: SubjectState(subject: subject)) }
        if let bytes = try load(Keys.goldenKey(subject)) {
            returns += 1
            return CachedState(state: try SubjectState(encoded: bytes))
        }
        return CachedState(state: SubjectState(subject: subject))
    }

    /// The outcome ``apply(_:into:)`` fills, emptied between events.
    var spareOutcome = ProjectionOutcome()

    /// Applies one positioned event and writes its effects into `sink`.
    /// - Throws: ``EventRejection`` when a steward decision does not fit (nothing written).
    func apply(_ event: Event, into sink: some WriteSink) throws {
        if event.isIdentityDecision, let decision = event.identityDecision {
            try applyIdentity(decision, of: event, into: sink)
            try countAccepted(event)
            projectedPosition = event.position
            return
        }
        var event = event
        // The fold changes the cached state in place (a refused steward decision leaves it as it was).
        var ledger = Ledger(writer: self, allocated: nextConflictId)
        let batch = batchNumber
        var changed = false
        // One outcome, reused event after event (see ``ProjectionOutcome/recycle()``).
        var outcome = ProjectionOutcome()
        swap(&outcome, &spareOutcome)
        defer {
            outcome.recycle()
            swap(&outcome, &spareOutcome)
        }
        // A local record's event folds into its golden record, an absorbed record's into its
        // survivor: followed here, where the state is at hand anyway (a national identifier's
        // own record costs one test).
        var hops = 0
        var newValues: [Assertion] = []
        var subject = event.subject
        while true {
            // The subject read out of the event once: each read copied it (an outlined copy of
            // its storage, four times an event: callgrind, the registry snapshot's rebuild).
            var redirect: Subject?
            try subjects.update(subject, load: { try stateToChange(subject) }) { cached in
                if let next = cached.state.identity?.mergedInto { redirect = next; return }
                // A local record's state is only ever a pointer: one without is a log without its decision.
                if cached.state.eventCount == 0, subject.isLocal {
                    throw StoreError.corrupt("\(subject.publishedText) of \(event.source) has no golden record (no identity decision before it)")
                }
                if identity.indexes(subject.kind) { newValues = identity.newBlockValues(of: event, in: cached.state) }
                let first = cached.state.eventCount == 0
                try projector.apply(event, to: &cached.state, ledger: &ledger, into: &outcome)
                identity.forgetProfile(of: subject)
                changed = cached.markChanged(in: batch)
                if !newValues.isEmpty { identity.index(newValues, of: cached.state, first: first, batch: batch, into: sink) }
            }
            guard let next = redirect else { break }
            hops += 1
            guard hops < 64 else { throw StoreError.corrupt("\(subject) is merged in a cycle") }
            event = event.resolved(to: next)
            subject = event.subject
        }
        if changed { noteDirty(subject) }
        nextConflictId = ledger.allocated
        try write(&outcome, into: sink)
        try countAccepted(event)
        projectedPosition = event.position
    }

    /// Lists a subject whose cached state a batch changed for the first time, to be written.
    func noteDirty(_ subject: Subject) {
        dirtySubjects.append(subject)
        policy.noteChanged(subject)
    }

    /// Caches and writes conflicts a fold created or changed, with the open-conflict index.
    func put(_ changed: [Conflict], into sink: some WriteSink) {
        for c in changed {
            conflicts[c.id] = c
            sink.putConflict(c)
            if c.status == .open { sink.put(Keys.openConflictKey(c.id), []) } else { sink.delete(Keys.openConflictKey(c.id)) }
        }
    }

    /// Writes what a fold produced: conflicts (cached too), change records (numbered here),
    /// links, and the quality counts of conflicts opened and corrections requested.
    func write(_ outcome: inout ProjectionOutcome, into sink: some WriteSink) throws {
        put(outcome.conflicts, into: sink)
        for i in outcome.changes.indices {
            changeHead += 1
            outcome.changes[i].position = changeHead
        }
        // A record passed where it lies in the array (or through a buffer pointer) is copied
        // for the call, every field retained and released: the compiler cannot tell that the
        // callee leaves the array alone. The one record of a department's event (nearly every
        // event) is moved out for the call and back instead.
        if outcome.changes.count == 1, let only = outcome.changes.popLast() {
            sink.putChange(only)
            outcome.changes.append(consume only)
        } else {
            for i in outcome.changes.indices { sink.putChange(outcome.changes[i]) }
        }
        for l in outcome.linksRemoved {
            let keys = Keys.linkKeys(l)
            sink.delete(keys.person)
            sink.delete(keys.enterprise)
        }
        for l in outcome.linksAdded {
            let keys = Keys.linkKeys(l)
            sink.put(keys.person, [])
            sink.put(keys.enterprise, [])
        }
        for c in outcome.opened { for s in c.disagreeingSources { try count(s, "conflictsOpened") } }
        for d in outcome.corrections { try count(d, "corrections") }
    }

    /// The two counters every event moves, with their keys built once per department.
    func countAccepted(_ event: Event) throws {
        let department = try departmentCounters(event.source)
        bump(department.accepted)
        if department.countsDelay {
            // Delay between effective time and publication, in power-of-two-second buckets.
            let seconds = max(1, (event.ingestTime - event.time) / 1_000_000)
            bump(try delayCounter(department, bucket: 63 - seconds.leadingZeroBitCount))
        }
    }

    /// Writes the records changed in this batch (once each) and the counters. Writing golden
    /// records late, it writes those the next ``committed()`` drops from the cache.
    func finishBatch(into sink: some WriteSink) {
        prefetched.removeAll(keepingCapacity: true)
        growCacheIfRecordsComeBack()
        policy.finishBatch(batchNumber, dirty: &dirtySubjects, subjects: &subjects, into: sink)
        batchNumber += 1
        for c in dirtyCounters {
            sink.put(c.key, Keys.be(c.value))
            c.isDirty = false
        }
        dirtyCounters.removeAll(keepingCapacity: true)
        // Spread the freeing of evicted records over the batches that follow a rotation, or,
        // for a writer that frees them while idle, over those before the next.
        if Policy.freesWhenIdle {
            subjects.freeRetiredDue()
            conflicts.freeRetiredDue()
        } else {
            subjects.freeRetired(atLeast: 500)
            conflicts.freeRetired(atLeast: 500)
        }
        sink.put(Keys.derivedMetaKey("changeHead"), Keys.be(changeHead))
        sink.put(Keys.derivedMetaKey("nextConflict"), Keys.be(nextConflictId))
        sink.put(Keys.derivedMetaKey("projected"), Keys.be(projectedPosition))
        // Operational, not derived: a replay's writes take derived keys only, and its end
        // writes the count itself (`Rebuilder`).
        if subjectCountChanged, Policy.writesSubjectCount, let n = subjectCount {
            sink.put(Keys.subjectCountHint, Keys.be(n))
            subjectCountChanged = false
        }
        identity.finishBatch(into: sink)
    }

    /// Before a rotation of the subject cache: doubles its generations (up to the ceiling)
    /// when a quarter of a generation's worth of the records it let go were read back since
    /// the last one. Each such record costs a write, a read and a decoding that a larger
    /// cache saves (a registry snapshot: its subjects come back once per department, each
    /// department's pass longer than the cache); a log whose subjects stay together never
    /// grows it. Decided before the policy writes what the rotation would let go.
    private func growCacheIfRecordsComeBack() {
        guard subjects.isFull else { return }
        // Counted per rotation whether or not the cache may grow, so a load that lets it
        // grow starts from its own reads, not from the count of the traffic before it.
        defer { returns = 0 }
        if cacheCeiling > cacheLimit && returns * 4 >= subjects.generationSize
            && subjects.generationSize * Self.generations < cacheCeiling {
            subjects.grow(toGenerationSize: min(subjects.generationSize * 2, cacheCeiling / Self.generations))
        }
    }

    /// Adds one to a department's `metric` (written by ``finishBatch(into:)``).
    func count(_ department: String, _ metric: String) throws {
        bump(try counter(Keys.qualityKey(department, metric)))
    }

    /// A quality counter, read from the store once and kept; written when it changed.
    private final class Counter {
        let key: [UInt8]
        var value: UInt64
        var isDirty = false
        init(key: [UInt8], value: UInt64) { self.key = key; self.value = value }
    }

    /// Every quality counter touched, by key (departments × metrics: a bounded set).
    private var counters: [[UInt8]: Counter] = [:]
    private var dirtyCounters: [Counter] = []

    private func counter(_ key: [UInt8]) throws -> Counter {
        if let c = counters[key] { return c }
        let c = Counter(key: key, value: try load(key).map { Keys.readBE($0) } ?? 0)
        counters[key] = c
        return c
    }

    /// The counters every event of a department moves (accepted, publication delay), held
    /// by department: one dictionary lookup per event instead of a hashed key per counter.
    private final class DepartmentCounters {
        let department: String
        let accepted: Counter
        var delays: [Counter?] = Array(repeating: nil, count: 64)
        /// Whether its events' publication delay is counted: a department's, not a steward's
        /// or the matcher's decisions (told once here, not by comparing codes every event).
        let countsDelay: Bool
        init(department: String, accepted: Counter) {
            self.department = department; self.accepted = accepted
            countsDelay = department != Configuration.stewardSource && department != Configuration.matcherSource
        }
    }
    /// A dozen departments: found by the identity of the code (events carry the configuration's
    /// own string), else by comparing, sooner than by hashing it.
    private var departments: [DepartmentCounters] = []

    private func departmentCounters(_ source: String) throws -> DepartmentCounters {
        if let i = departments.firstIndex(named: source, by: { $0.department }) { return departments[i] }
        let d = DepartmentCounters(department: source, accepted: try counter(Keys.qualityKey(source, "accepted")))
        departments.append(d)
        return d
    }

    private func delayCounter(_ d: DepartmentCounters, bucket: Int) throws -> Counter {
        if let c = d.delays[bucket] { return c }
        let c = try counter(Keys.qualityKey(d.department, "delay.\(bucket)"))
        d.delays[bucket] = c
        return c
    }

    private func bump(_ counter: Counter) {
        counter.value += 1
        if !counter.isDirty { counter.isDirty = true; dirtyCounters.append(counter) }
    }

    struct Ledger: ConflictLedger {
        let writer: ProjectionWriter
        var allocated: UInt64
        mutating func conflict(id: UInt64) throws -> Conflict? {
            if let c = writer.conflicts[id] { return c }
            return try writer.load(Keys.conflictKey(id)).map { try Conflict(encoded: $0) }
        }
        mutating func allocateConflictId() -> UInt64 { defer { allocated += 1 }; return allocated }
    }
}

extension ProjectionWriter where Policy == GoldenRecordsWithEachBatch {
    /// Starts noting the subjects whose records this writer changes; `complete` when the
    /// store holds no golden record: from then on, a subject it has not changed is not looked up.
    func startGoldenExistence(complete: Bool, capacity: Int) {
        policy.storedGoldens = KeyExistence(complete: complete, capacity: capacity)
    }

    /// Adopts a census of the stored golden records, read after the filter was started.
    func completeGoldenExistence(with census: consuming MembershipFilter<Subject>) {
        policy.storedGoldens.complete(with: census)
    }
}

extension ProjectionWriter where Policy == GoldenRecordsLate {
    /// Takes the cached states changed since they were last written out of the cache, each
    /// with the number of its last draft while that draft holds it
    /// (``CachedState/currentDraft``): what the end of a replay writes. The cache keeps an
    /// empty state in each one's place, marked written; call it last, before
    /// ``takeCaches()``.
    ///
    /// Moved, not copied: copying the registry snapshot's 50,000 records (a retain of every
    /// string and list in each) took 21 ms of its rebuild's end, on the thread the end waits
    /// for, and releasing the copies about 8 ms more (hand runs with timers).
    func takeUnwrittenStates() -> [(state: SubjectState, draft: Int?)] {
        var out: [(state: SubjectState, draft: Int?)] = []
        out.reserveCapacity(subjects.count)
        // Leaving ones were written when they left and have not changed since (a change
        // brings a record back to the young generation).
        subjects.modifyEachCurrent { cached in
            guard cached.unwritten else { return }
            var state = SubjectState(subject: cached.state.subject)
            swap(&state, &cached.state)
            out.append((consume state, cached.currentDraft))
            cached.unwritten = false
        }
        return out
    }
}

extension ProjectionWriter where Policy == GoldenRecordsWithEachBatch {
    /// Whether changed golden records are written late (see ``GoldenRecordsWithEachBatch``).
    var writesGoldenRecordsLate: Bool { policy.writesLate }

    /// Whether the load's cache holds every subject: ``writeLateGoldenRecords(into:)`` then
    /// writes the records in runs of neighbouring keys, one run a sink.
    var holdsEverySubjectOfTheLoad: Bool { policy.holdsEverything }

    /// From now on, writes golden records when their subjects pause or the cache lets them
    /// go, not with each batch;
    /// ``writeLateGoldenRecords(into:)`` writes the rest and returns to writing them with
    /// each batch.
    func writeGoldenRecordsLate() { policy.writesLate = true }

    /// Puts every cached golden record changed since it was last written into `sinks` (to be
    /// encoded on as many threads), and writes them with each batch from now on. Call with
    /// nothing being built.
    ///
    /// When the cache held every subject of the load, each sink gets a run of neighbouring
    /// keys: its records then make table files whose key ranges do not overlap, and when no
    /// stored key falls in those ranges (a fresh load) RocksDB ingests every one of them into
    /// the lowest level free for it (the last in a small store; level 2 after the registry
    /// snapshot's import, whose log files hold the levels below), where the closing merge
    /// from level 0 into level 1 does not read them. Dealt in turn, every file spanned all the
    /// records, and each was ingested a level above the one before, into reach of the load's
    /// closing merge. Otherwise records that left the cache were written during the load, the
    /// files land in level 0 whatever their ranges, and the records are dealt in turn, without
    /// sorting their keys.
    func writeLateGoldenRecords(into sinks: [some WriteSink]) {
        if policy.holdsEverything && sinks.count > 1 {
            var waiting: [SubjectState] = []
            takeUnwritten { waiting.append($0) }
            let run = (waiting.count + sinks.count - 1) / sinks.count
            for (n, i) in bytewiseOrder(waiting.map { Keys.goldenKey($0.subject) }).enumerated() {
                sinks[n / run].putGolden(waiting[i])
            }
        } else {
            var next = 0
            takeUnwritten { state in
                sinks[next % sinks.count].putGolden(state)
                next += 1
            }
        }
        policy.endLoad()
    }

    /// Calls `body` with each cached record changed since it was last written, and counts
    /// it written.
    private func takeUnwritten(_ body: (SubjectState) -> Void) {
        subjects.modifyEach { cached in
            if cached.unwritten {
                body(cached.state)
                cached.unwritten = false
            }
        }
    }
}

/// Cached records taken out of a ``ProjectionWriter``; they are freed by ``free()`` on
/// whichever thread calls it (the writer no longer refers to them).
final class RetiredCaches: @unchecked Sendable {
    private var subjects: RecentCache<Subject, CachedState>
    private var conflicts: RecentCache<UInt64, Conflict>
    /// Records taken out of the cache before it (``ProjectionWriter/takeUnwrittenStates()``).
    private var taken: [(state: SubjectState, draft: Int?)] = []
    fileprivate init(subjects: RecentCache<Subject, CachedState>, conflicts: RecentCache<UInt64, Conflict>) {
        self.subjects = subjects
        self.conflicts = conflicts
    }
    /// Keeps `records`, to be freed with the caches by ``free()``.
    func keep(_ records: consuming [(state: SubjectState, draft: Int?)]) {
        taken = records
    }
    func free() {
        subjects.removeAll()
        conflicts.removeAll()
        taken = []
    }
}

extension ProjectionWriter {
    /// The generation size at which this writer's subject cache holds `subjects` records
    /// without letting any go, or nil when that would take more than `ceiling` records in
    /// all (or there is nothing to hold).
    ///
    /// Subjects whose events lie far apart (a registry snapshot: each subject once per
    /// department, a whole department's pass apart) leave a cache smaller than such a pass
    /// between their events: each such record is encoded and written when it leaves, read back
    /// and decoded when it returns, and encoded and written again at the end. The cache grows
    /// when it sees records come back, but only after the first passes have let thousands go.
    /// When one generation of the largest cache allowed (`ceiling`) takes every subject, the
    /// generations are made that size: the cache never rotates, so no record leaves it, and it
    /// holds no more records than there are subjects (hand runs, the registry snapshot's
    /// replay: 2.24–3.30 s → 1.75–2.52 s, peak RSS 404–421 → 367–383 MiB). Generations of two
    /// thirds of the subjects were no faster than the default: records passed through the
    /// leaving generation, and were written then.
    static func fittingGenerationSize(subjects: Int, ceiling: Int) -> Int? {
        subjects > 0 && subjects * generations <= ceiling ? subjects : nil
    }

    /// Makes each generation of the subject cache hold `count` records from now on, when
    /// that fits under the cache's ceiling (``fittingGenerationSize(subjects:ceiling:)``; a
    /// live writer's ceiling is its limit outside a bulk load), and tells the policy. Never
    /// shrinks the cache; nothing leaves it meanwhile.
    /// - Returns: whether the cache now holds that many.
    @discardableResult
    func holdEverySubject(of count: Int) -> Bool {
        guard let size = Self.fittingGenerationSize(subjects: count, ceiling: cacheCeiling) else { return false }
        subjects.grow(toGenerationSize: size)
        policy.holdsEverySubject()
        return true
    }
}
