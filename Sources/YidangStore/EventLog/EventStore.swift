import Dispatch
import Foundation
import Logging
import Synchronization
import RocksDB
import YidangMatching
import YidangModel
import YidangProjection

/// The hub's single writer: appends events to the log and updates the projection and
/// the change feed in the same RocksDB `WriteBatch`.
///
/// Guarantees:
/// - **Durable**: `append` returns only after the batch holding the events, their
///   projection and their change records is written with a synced WAL (on a cluster node, whose truth is the replicated log, written: see ``setSyncsCommits(_:)``).
/// - **Group commit**: appends that arrive while a commit is in flight are gathered into
///   the next single batch.
/// - **Idempotent**: (`source`, `id`) is unique; an identical repeat returns the original
///   position, a repeat with other content is rejected (`id-reused`) and stores nothing.
/// - **Ordered**: positions are 1, 2, 3… in commit order, and submission order is kept.
public actor EventStore {
    public nonisolated let database: Database
    public nonisolated let configuration: Configuration
    private let projection: LiveProjectionWriter
    /// The log's indexes of a load into an empty store, written when it ends (``HeldLogIndexes``).
    private let heldIndexes: HeldLogIndexes
    private let commitQueue = DispatchQueue(label: "yidang.commit")
    private var head: UInt64
    /// Submitted appends not yet taken into a group, and whether a flush loop is running.
    /// Behind a lock, not the actor: a submitter never waits for the actor, which spends most
    /// of a bulk load building groups (a bulk loader then validates its next chunk meanwhile).
    private nonisolated let inbox = Mutex(Inbox())
    /// Wakes the flush loop when a large append arrives or a group's commit ends,
    /// whichever comes first, while it has room to build another group.
    private nonisolated let arrivals = Wakeup()

    struct Inbox: ~Copyable {
        var pending: [PendingAppend] = []
        var flushing = false
    }
    private let logger: Logger
    /// Hook for metrics, told of every durable group.
    private var onCommit: (@Sendable (GroupCommit) -> Void)?
    private let clock: @Sendable () -> Int64
    /// Set while bulk loading: groups are committed as table files written here and
    /// ingested, not as write batches (see ``setBulkLoading(_:)``).
    private var tableFileDirectory: String?

    struct PendingAppend {
        let events: [Event]
        let promise: Promise<[AppendResult]>
        /// Built alone, with no group in flight (see ``submit(_:isolated:)``).
        var isolated = false
        /// A replica's entry: its sequence and the time its events are folded with.
        var stamp: ReplicaStamp?
        var effect: StoreEffect?
    }

    /// Opens the writer on `database`, catching the projection up with the log if an
    /// earlier process stopped between the two (never the case for batches it wrote).
    public init(database: Database, configuration: Configuration, logger: Logger = Logger(label: "yidang.store"),
                clock: @escaping @Sendable () -> Int64 = EventStore.now, projectionCacheLimit: Int = 50_000,
                matchModels: [EntityKind: MatchModel] = [:], heldIndexLimit: Int = EventStore.heldIndexLimit) throws {
        self.database = database
        self.configuration = configuration
        self.logger = logger
        self.clock = clock
        let reader = StoreReader(database: database, configuration: configuration)
        let held = HeldLogIndexes(limit: heldIndexLimit)
        heldIndexes = held
        // A refold during a load reads the positions the load still holds as well (once, when
        // a group it was put into is stored too).
        let access = IdentityLedger.StoreAccess(
            keys: { prefixes, limit, visit in try database.keys(under: prefixes, limit: limit, visit) },
            history: { subject in
                try reader.events(at: Set(reader.positions(of: subject) + held.positions(of: subject)).sorted())
            })
        let projection = try LiveProjectionWriter(configuration: configuration, cacheLimit: projectionCacheLimit,
                                                  loadAll: { try database.get($0) }, store: access, trained: matchModels) { try database.get($0) }
        let head = try StoreReader(database: database, configuration: configuration).headPosition()
        // A store with no events holds no idempotency key and no golden record: the filters are
        // complete from here. Any other waits for a census (``adoptKeyCensus()``).
        let empty = head == 0, capacity = empty ? Self.freshFilterCapacity : 1 << 16
        storedIdentities = KeyExistence(complete: empty, capacity: capacity)
        projection.startGoldenExistence(complete: empty, capacity: capacity)
        self.projection = projection
        self.head = head
        if try database.get(Keys.rebuildMarker) != nil { throw StoreError.rebuildUnfinished }
        // A reader of a directory another process loads sees the golden records as stored.
        if !database.isSecondary, try database.get(Keys.lateGoldenRecordsMarker) != nil { throw StoreError.loadUnfinished }
        guard projection.projectedPosition == head else {
            throw StoreError.projectionBehind(log: head, projected: projection.projectedPosition)
        }
        // Table files of a bulk load that stopped before ingesting them: never part of the
        // store, so failing to remove them (usually: there are none) loses nothing. A
        // secondary reader leaves them: they are the serving primary's load in flight.
        if !database.isSecondary { try? FileManager.default.removeItem(atPath: groupFileDirectory) }
    }

    private nonisolated var groupFileDirectory: String { database.path + ".groups" }

    /// The most events whose log indexes a load into an empty store holds until its end
    /// (``HeldLogIndexes``; about 125 bytes each, 64 MiB in all).
    public static let heldIndexLimit = 1 << 19

    /// What the projection's subject cache may grow to during a bulk load (``setBulkLoading(_:)``).
    static let bulkLoadCacheCeiling = 200_000

    /// Commits the groups built from now on as table files (on) or write batches (off).
    ///
    /// A bulk load sends far more events than any reader waits for, in large groups. Written
    /// as a batch, each group goes to the write-ahead log, then into the memtable's skiplist
    /// one key at a time, then out again into a table file by a flush: most of an import's
    /// commit work. As a table file it is sorted and written once, synced, and ingested
    /// (RocksDB's bulk-load path). A group's files are ingested one column family at a time
    /// (the default family, then the log's, then the change feed's: ``Keys/families``), so a
    /// crash can leave a group's indexes and projection without its log entries; the load's
    /// marker, stored with the first group's default-family file, makes the next open
    /// rebuild the log's indexes and the projection from the log, which then holds a prefix
    /// of whole groups. An append still returns only once its group is durable. The cost is
    /// read-side: every group is a level-0 file until compaction merges them, so this is for
    /// loads, not for steady traffic.
    ///
    /// Golden records are written late meanwhile: a record stays in the cache while it
    /// changes and is written when the cache lets it go, or when the load is turned off (a
    /// registry snapshot brings every subject back once per department; written with each
    /// group, every record was encoded and written once per department). Everything else
    /// (log, change feed, conflicts, blocking keys) is still written with its group, and so
    /// are the log's indexes except in a load into an empty store, which holds them to its
    /// end (``HeldLogIndexes``; the marker then says so).
    /// A marker, written with the load's first group, says the stored records may lag the
    /// log until the load ends; a process that stops before then leaves it, and the next hub to
    /// open the directory rebuilds the projection from the log (``Hub``), which holds every
    /// event any append was answered for.
    ///
    /// Turn it off once the load's appends are answered: that writes the records still
    /// waiting and removes the marker. Level-0 files start a compaction at 32 while it is on
    /// (eight otherwise, four for the merge it ends with; a group leaves two), so a load is
    /// merged in a few large steps, and slow writes down at 40 (20 otherwise).
    ///
    /// A load into a store that holds no events yet also keeps its own appends' identities
    /// (and the subjects whose golden records it changed) in memory filters while it runs:
    /// only those can be in the store, so a key the filters have never seen is not looked up.
    /// - Throws: when the directory for the files cannot be created, RocksDB refuses the
    ///   compaction trigger, the marker cannot be written, or (turning it off) the records
    ///   waiting cannot be written: the marker stays then, and the next open rebuilds them.
    public func setBulkLoading(_ on: Bool) async throws {
        var merging = false
        if !on && projection.writesGoldenRecordsLate {
            // A fresh load that held every subject writes the records in runs of neighbouring
            // keys (ProjectionWriter.writeLateGoldenRecords), and the log's held indexes in
            // files of their own. When no file of level 0 reaches into their key ranges,
            // RocksDB ingests them below it, and the closing merge of level 0 need not wait
            // for them: it starts first, beside their sorting (one core) and encoding (the
            // registry snapshot's 50,000 subjects, timestamps in a hand run: 50 ms and 125 ms).
            // Any other load's records may land in level 0, and are merged with it.
            if loadIsFresh, projection.holdsEverySubjectOfTheLoad,
               try Self.levelZeroSpares(from: [Keys.golden], to: [Keys.golden + 1], database: database),
               try !heldIndexes.waitsToBeWritten || Self.levelZeroSpares(from: [Keys.subjectIndex], to: [Keys.idempotency + 1], database: database) {
                try Self.setLoadTriggers(false, database: database)
                merging = true
            }
            try await writeLateGoldenRecords()
        }
        if on && !projection.writesGoldenRecordsLate {
            projection.writeGoldenRecordsLate()
            markerDue = true
        }
        if !merging { try Self.setLoadTriggers(on, database: database) }
        // An empty log: no group was ever accepted, none is in flight, and every append from
        // here on passes `prepare`, which records it.
        let fresh = on && head == 0
        loadIsFresh = fresh
        // Held only while the marker is still due: the group that writes it says so.
        if fresh && markerDue { heldIndexes.start() }
        // A load of registry snapshots brings each subject back once per department, further
        // apart than the cache holds: it may grow while they come back, and shrinks after.
        projection.setCacheCeiling(on ? Self.bulkLoadCacheCeiling : nil)
        guard on else {
            tableFileDirectory = nil
            // Empty once every group is ingested (a group still in flight keeps it).
            rmdir(groupFileDirectory)
            return
        }
        // Leftovers of an earlier load, never ingested; createDirectory reports a real problem.
        try? FileManager.default.removeItem(atPath: groupFileDirectory)
        try FileManager.default.createDirectory(atPath: groupFileDirectory, withIntermediateDirectories: true)
        tableFileDirectory = groupFileDirectory
    }

    /// Sizes a bulk load's subject cache to hold `subjects` records without letting any go,
    /// when they fit under the load's ceiling (``ProjectionWriter/holdEverySubject(of:)``);
    /// otherwise, or outside a load (the ceiling is then the cache's limit), does nothing. An
    /// import calls it with the count of the subjects its input names (``InputCensus``).
    /// Ending the load returns the cache to its limit, as it does after growing on its own.
    public func holdSubjects(_ subjects: Int) {
        if !projection.holdEverySubject(of: subjects) { heldIndexes.release() }
    }

    /// Tells a bulk load that its golden records will not all be held (its subjects do not
    /// come back: ``holdSubjects(_:)`` is not called): the log's indexes it holds
    /// (``HeldLogIndexes``) go with its next group, and later groups write their own. Its
    /// records go into level 0 and are merged at its end anyway, and written at the end
    /// the indexes would only lengthen it (city import, ab.sh: wall 1.039).
    public func writeLogIndexesWithGroups() {
        heldIndexes.release()
    }

    /// How many records each generation of the subject cache holds now.
    var subjectGenerationSize: Int { projection.subjects.generationSize }

    /// Returns once RocksDB has no flush or compaction running or due (at once when
    /// automatic compactions are off). The end of a bulk load: it leaves level 0 many
    /// files deep, and a process that exits abandons a compaction half done, so the next
    /// command would start it again while its own reads merge every level-0 file and its
    /// writes stall (hand runs, a 5,000-record import right after a 10⁶-person registry:
    /// 361 records/s, against 5,146 on the compacted store). It looks every 2 ms (four
    /// property reads): a load then ends within 2 ms of its last merge, not within 20.
    /// - Throws: ``RocksDBError`` when the database is closed meanwhile.
    public nonisolated func settle() async throws {
        guard database.autoCompactions else { return }
        while try database.backgroundWorkPending() { try await Task.sleep(nanoseconds: Database.backgroundWorkPoll) }
    }

    /// Whether a group's batch is written with a synced write-ahead log before its appends
    /// are answered. Always on a single node, where the store is the truth. A cluster
    /// node's replica turns it off (``setSyncsCommits(_:)``): the truth is the replicated
    /// log, stored on a majority of servers before any replica applies it, and the applied
    /// sequence is written in the same batch as what it applied, so a replica that loses an
    /// unsynced tail (power loss; a killed process loses nothing written) applies it again
    /// from the log.
    private var syncsCommits = true
    public func setSyncsCommits(_ on: Bool) { syncsCommits = on }

    public static let now: @Sendable () -> Int64 = {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000
    }

    public func setCommitObserver(_ observer: @escaping @Sendable (GroupCommit) -> Void) { onCommit = observer }

    /// Called after each durable commit with the new change-feed head.
    private var onChanges: (@Sendable (UInt64) -> Void)?
    public func setChangeObserver(_ observer: @escaping @Sendable (UInt64) -> Void) { onChanges = observer }

    /// Why the writer stopped accepting events for good (a failed commit whose recovery
    /// also failed), or nil while it works. Readiness reports it; a restart recovers.
    public nonisolated var failure: String? { poison.failure }

    /// The last stored position (0 when empty).
    public var headPosition: UInt64 { head }

    /// The last entry of the replicated log this store applied (0: none; a single node's
    /// store never has one).
    /// - Throws: when the store cannot be read.
    public nonisolated func appliedSequence() throws -> UInt64 {
        try database.get(Keys.appliedSequence).map { Keys.readBE($0) } ?? 0
    }

    /// Queues events behind those already submitted and returns at once, without waiting for
    /// the writer; await ``CommitTicket/results`` for their fate. Lets a bulk loader keep the
    /// writer busy while it validates the next chunk.
    ///
    /// A replica passes its entry's `stamp`: the events are folded with the stamp's time (not
    /// this node's clock), and the entry's sequence is stored in the same batch, so that a
    /// restarted replica goes on after the last entry it holds. An `effect` adds writes of the
    /// operational key space (a token, rejection counts) to that batch.
    public nonisolated func submit(_ events: [Event], isolated: Bool = false, stamp: ReplicaStamp?,
                                   effect: StoreEffect? = nil) -> CommitTicket {
        let promise = Promise<[AppendResult]>()
        let starts = inbox.withLock { inbox in
            inbox.pending.append(PendingAppend(events: events, promise: promise, isolated: isolated, stamp: stamp, effect: effect))
            defer { inbox.flushing = true }
            return !inbox.flushing
        }
        if starts {
            Task { await self.flush() }
        } else if events.count >= Self.largeAppend {
            // Worth a group of its own at once (see ``groupLength(_:idle:largeAlone:)``); a
            // small append waits for the commit in flight, to share the next group's sync.
            arrivals.notify()
        }
        return CommitTicket(promise: promise)
    }

    /// Takes the next group's appends (see ``groupLength(_:idle:largeAlone:)``). Large
    /// appends are kept apart only with nothing in flight: under a heavier load (eight bulk
    /// clients) groups of several requests cost less CPU per event.
    private func takeGroup(idle: Bool) -> [PendingAppend] {
        let largeAlone = tableFileDirectory == nil && idle
        return inbox.withLock { inbox in
            let n = Self.groupLength(inbox.pending.lazy.map { ($0.events.count, $0.isolated) }, idle: idle, largeAlone: largeAlone)
            defer { inbox.pending.removeFirst(n) }
            return Array(inbox.pending.prefix(n))
        }
    }

    /// Appends of at least this many events are built alone while callers wait for their
    /// answers (see ``groupLength(_:idle:largeAlone:)``).
    static let largeAppend = 1_000
    /// The most events a group takes when it takes more than one append.
    static let groupCeiling = 20_000

    /// How many of the waiting appends (their event counts, whether isolated; oldest first)
    /// the next group takes, in order: the first, then as many as fit in ``groupCeiling``
    /// events; an isolated append only alone and only when nothing is in flight (`idle`),
    /// and none after it.
    ///
    /// With `largeAlone` (outside a bulk load, while callers wait, with nothing in flight:
    /// see ``takeGroup(idle:)``), a large append
    /// (``largeAppend`` events or more, such as an HTTP bulk request) is not grouped with
    /// others: its own sync is already shared by a thousand events, and a group answers all
    /// its callers at once. Two clients' requests built into one group were answered
    /// together, after both were folded and written, and came back together, leaving the
    /// fold and the commit thread idle in turn; built alone, one is written while the other
    /// is folded.
    static func groupLength(_ pending: some Collection<(count: Int, isolated: Bool)>, idle: Bool, largeAlone: Bool) -> Int {
        guard let first = pending.first else { return 0 }
        if first.isolated { return idle ? 1 : 0 }
        var size = 0
        var n = 0
        for append in pending {
            if append.isolated { break }
            if n > 0 {
                if size + append.count > groupCeiling { break }
                if largeAlone && (append.count >= largeAppend || size >= largeAppend) { break }
            }
            size += append.count
            n += 1
        }
        return n
    }

    /// Whether appends are waiting; when none are and `stopping`, the flush loop ends (under
    /// the same lock that a submitter checks it with).
    private func hasPending(stoppingIfNone stopping: Bool) -> Bool {
        inbox.withLock { inbox in
            if inbox.pending.isEmpty && stopping { inbox.flushing = false }
            return !inbox.pending.isEmpty
        }
    }

    /// A group whose batch is written (or being written) on the commit thread.
    private struct InFlight {
        let group: [PendingAppend]
        let results: [[AppendResult]]
        let accepted: Int
        let startHead: UInt64
        /// Completed by the commit thread with the seconds the write took.
        let commit: Promise<Double>
        /// The seconds this actor spent building it (``GroupCommit/buildSeconds``).
        var buildSeconds: Double = 0
        /// Its (source, id) identities in ``unsettled``, forgotten once it is durable.
        var identities: [Identity] = []
        /// The change-feed head once it is durable.
        var changeHead: UInt64 = 0
        /// The projection's number of the group's batch.
        var batch: UInt64 = 0
        /// Whether the commit thread answers its callers and tells the observers once it
        /// is durable (``answersOnDurability(_:inBulkLoad:)``).
        var answered = false
    }

    /// Identities (idempotency keys) appended by groups not yet known durable, so a
    /// duplicate across two in-flight groups is caught.
    /// Each holds the event, so a repeat is compared with what was first appended.
    private var unsettled: [Identity: (position: UInt64, event: Event)] = [:]

    /// A repeat of an appended (source, id): a duplicate when it publishes the same content,
    /// else refused as `id-reused` naming the original position (the department's new
    /// content would otherwise be dropped while it is told the event is stored).
    static func repeatResult(_ event: Event, of original: Event, at position: UInt64) -> AppendResult {
        if event.publishesSameContent(as: original) { return .duplicate(position: position) }
        var r = EventRejection("id", .idReused,
                               "the id \"\(event.id)\" of \(event.source) is already stored at position \(position) with other content; "
                               + "a repeat must be identical, a new fact needs a new id")
        r.originalPosition = position
        return .rejected(r)
    }

    /// Whether the bulk load under way began on a store that held no events.
    private var loadIsFresh = false

    /// The idempotency keys the store may hold: every one the writer has appended since it
    /// opened, and once the census is adopted every one stored before (``KeyExistence``).
    private var storedIdentities: KeyExistence<Identity>

    /// The census of a store that held events when the writer opened it: started by the
    /// first group built, adopted by a later one once done, stopped by ``stopKeyCensus()``.
    private nonisolated let keyCensus = Mutex<StoredKeyCensus?>(nil)
    /// Whether the census has been started (it runs once per writer).
    private var keyCensusStarted = false

    /// The first capacity of each filter of a store that opened empty: 2²⁰ keys (1.3 MB). A
    /// filter that fills takes another of twice the room, and a test reads one block of
    /// each (a bulk load of new people fills one key of each filter an event), so a hub
    /// that started empty and grew to 2³⁰ keys tests eleven; one restarted holds the census's
    /// one, sized for the store.
    static let freshFilterCapacity = 1 << 20

    /// Starts the census of the stored keys on the first group, and adopts it once done:
    /// from then on, keys the filters have never seen are not looked up.
    private func adoptKeyCensus() {
        guard !storedIdentities.isComplete else { return }
        guard keyCensusStarted else {
            keyCensusStarted = true
            // Sized by the log's events, and by the subjects the store counted when it has (a
            // hint only: unreadable, the filter is sized by the events and grows if need be).
            let subjects = (try? database.get(Keys.subjectCountHint)).flatMap { $0.map(Keys.readBE) }
            // Made under the lock, so a stop either finds it or comes before it reads anything.
            keyCensus.withLock { [head, database] in $0 = StoredKeyCensus(of: database, events: head, subjects: subjects) }
            return
        }
        guard let census = keyCensus.withLock({ $0 }), let outcome = census.result() else { return }
        keyCensus.withLock { $0 = nil }
        switch outcome {
        case .done(let filters, let seconds):
            logger.info("key census: \(filters.identities.count) idempotency keys and \(filters.subjects.count) golden records in \(String(format: "%.2f", seconds)) s; keys never stored are no longer looked up")
            storedIdentities.complete(with: filters.identities)
            projection.completeGoldenExistence(with: filters.subjects)
        case .failed(let error):
            // The filters stay incomplete: every key is looked up, as before the census.
            logger.warning("key census failed, every idempotency key and golden record is looked up: \(error)")
        }
    }

    /// Stops the census of stored keys if it still runs; returns once it no longer reads the
    /// store. Call before the database closes (a close waits for the reads in flight).
    public nonisolated func stopKeyCensus() {
        keyCensus.withLock { $0 }?.stop()
    }

    /// Whether the filters hold every stored key (for tests).
    var keyFiltersComplete: Bool { storedIdentities.isComplete }

    /// The stored position of each idempotency key (nil: not stored), in one batched lookup
    /// of those keys the filter may hold, and of those first among the keys a load into an
    /// empty store holds (``HeldLogIndexes``).
    private func storedPositions(_ identities: [Identity]) throws -> [UInt64?] {
        var out = [UInt64?](repeating: nil, count: identities.count)
        var wanted: [Int] = []
        for (i, identity) in identities.enumerated() where storedIdentities.mayBeStored(identity) {
            if let held = heldIndexes.position(of: identity) { out[i] = held } else { wanted.append(i) }
        }
        if !wanted.isEmpty {
            for (i, value) in zip(wanted, try database.get(wanted.map { identities[$0].bytes })) { out[i] = value.map(Keys.readBE) }
        }
        return out
    }

    /// An idempotency key as a dictionary key, hashed once (the writer looks each one up in
    /// `unsettled` and in the load's filter, inserts it into both and removes it again).
    typealias Identity = ByteKey

    /// Groups built and not yet durable, at most. Two: while the commit thread encodes,
    /// writes and syncs one group and has the next queued behind it, the fold builds a third
    /// instead of waiting for the first (interleaved imports 2.49 → 2.33 s median against one).
    static let groupsInFlight = 2

    /// Group commit with a pipeline: while earlier groups are written and synced on the
    /// commit thread (in order), the next group is validated against the projection and
    /// built. A group's callers are answered only after its own batch is durable; if a commit
    /// fails, it and every group built on it fail, and the caches are reloaded from disk.
    private func flush() async {
        var inFlight: [InFlight] = []   // oldest first
        while true {
            // A group whose commit ended is answered before another is built: its callers
            // (a client waiting to send its next request) need not wait for that fold.
            let oldestEnded = inFlight.first?.commit.completed != nil
            let room = inFlight.count < Self.groupsInFlight
            // A full cache may only shrink with nothing in flight: then build nothing more
            // until the groups in flight are durable.
            if !oldestEnded, room, !(projection.cacheIsFull && !inFlight.isEmpty),
               case let group = takeGroup(idle: inFlight.isEmpty), !group.isEmpty {
                inFlight.append(prepare(group))
                continue
            }
            if inFlight.isEmpty {
                // Idle: what the caches retired is freed before the loop stops, unless an
                // append comes meanwhile.
                freeRetiredWhile { !hasPending(stoppingIfNone: false) }
                if hasPending(stoppingIfNone: true) { continue }
                return
            }
            // With room for another group, wait for a large append or the oldest commit,
            // whichever comes first: awaiting the commit alone left a bulk request that came
            // meanwhile waiting for it, and the fold idle beside the commit thread.
            if !oldestEnded, room, !projection.cacheIsFull {
                freeRetiredWhile { !arrivals.isNoticed }
                await arrivals.wait()
                continue
            }
            let done = inFlight.removeFirst()
            freeRetiredWhile { done.commit.completed == nil }
            do {
                let seconds = try await done.commit.value
                if done.accepted > 0 && !done.answered {
                    onCommit?(GroupCommit(events: done.accepted, buildSeconds: done.buildSeconds, writeSeconds: seconds))
                }
                for identity in done.identities { unsettled.removeValue(forKey: identity) }
                projection.identity.durable(through: done.batch)
                // Nothing built on top of it: the caches may shrink.
                if inFlight.isEmpty { projection.committed() }
                if done.accepted > 0 && !done.answered { onChanges?(done.changeHead) }
                if !done.answered { for (request, r) in zip(done.group, done.results) { request.promise.complete(.success(r)) } }
            } catch {
                logger.error("commit failed: \(error)")
                let failed = [done] + inFlight
                // Their own errors say only that they refused to write after this one.
                for later in inFlight { _ = try? await later.commit.value }
                inFlight = []
                head = done.startHead
                unsettled.removeAll()
                if projection.writesGoldenRecordsLate {
                    // The caches hold golden records the store does not: reloading would lose
                    // them. The marker stays, and the next open rebuilds them from the log.
                    logger.critical("a commit failed during a bulk load whose golden records are written late; the writer stops accepting events: \(error)")
                    poison.fail("a commit failed during a bulk load (\(error)); reopen the store, which rebuilds its golden records from the log")
                } else { do {
                    try projection.reloadCounters()
                    poison.clear()
                } catch let reload {
                    // The caches may hold what the failed batch built and cannot be reset from
                    // disk: writing on would store a projection that disagrees with the log.
                    logger.critical("the writer could not recover from a failed commit and stops accepting events: \(reload)")
                    poison.fail("recovering from a failed commit (\(error)) failed: \(reload)")
                } }
                for f in failed { for request in f.group { request.promise.complete(.failure(error)) } }
            }
        }
    }

    /// Frees records the caches retired while `idle` holds, a few at a time: the writer would
    /// otherwise wait there (for an append, or for the oldest commit), and each group it
    /// builds frees only those that are due (``RecentCache/freeRetiredDue()``). Freed as
    /// each group was built, they were about an eighth of a bulk request's fold (`perf` of
    /// the bulk HTTP server: 4.1 % of its samples against the fold's 30.2 %); freed on
    /// another thread, they contend for the allocator.
    private func freeRetiredWhile(_ idle: () -> Bool) {
        while idle(), projection.freeRetired(atMost: Self.freedAtATime) {}
    }

    /// Retired records freed between two looks at whether the writer is still idle.
    static let freedAtATime = 200

    /// Records the projection's caches let go of and have not freed yet (none once the
    /// writer has been idle).
    var retiredRecordCount: Int { projection.retiredCount }

    /// Builds the next group's batch and hands it to the commit thread.
    private func prepare(_ group: [PendingAppend]) -> InFlight {
        let building = DispatchTime.now().uptimeNanoseconds
        let size = group.reduce(0) { $0 + $1.events.count }
        // Records are kept unencoded: the commit thread encodes, sorts and writes them, which
        // leaves this serial stage the fold alone.
        let batch = DeferredWrites(events: size)
        var results: [[AppendResult]] = []
        let clockNow = clock()
        var accepted = 0
        var applied: UInt64?
        let startHead = head
        var identities: [Identity] = []
        var run: SubjectRun?
        let batchNumber = projection.batchNumber
        /// Records an applied event in the group: its position, the log, its subject run and
        /// its idempotency key.
        func appendApplied(_ e: Event, _ key: Identity) {
            head += 1
            accepted += 1
            unsettled[key] = (head, e)
            storedIdentities.noteStored(key)
            identities.append(key)
            batch.putEvent(e)
            if heldIndexes.isHolding {
                heldIndexes.add(key, subject: e.subject, position: head)
                return
            }
            if let done = SubjectRun.add(e.subject, head, to: &run) { batch.put(done.key, done.value) }
            batch.put(key.bytes, Keys.be(head))
        }
        do {
            // Every event's idempotency key looked up at once, in one batched read, before the
            // fold: one at a time, each lookup probed the filter of every level-0 file in turn
            // (a bulk load leaves a dozen), a quarter of this stage in a perf profile. Nothing becomes durable
            // while this group is built without first being in `unsettled`, which is checked
            // first and is only emptied between groups.
            let keys = group.flatMap { request in request.events.map { Identity(Keys.idempotencyKey(source: $0.source, id: $0.id)) } }
            adoptKeyCensus()
            let stored = try storedPositions(keys)
            // Likewise the golden-record states the fold will miss in its cache.
            try projection.prefetch(group.flatMap { request in request.events.map(\.subject) })
            var next = 0
            for request in group {
                let ingest = request.stamp?.time ?? clockNow
                if let stamp = request.stamp { applied = max(applied ?? 0, stamp.sequence) }
                if let effect = request.effect {
                    for (key, value) in try effect({ try database.get($0) }) {
                        if let value { batch.put(key, value) } else { batch.delete(key) }
                    }
                }
                var out: [AppendResult] = []
                out.reserveCapacity(request.events.count)
                for var event in request.events {
                    let identity = keys[next]
                    let storedPosition = stored[next]
                    next += 1
                    if let first = unsettled[identity] {
                        out.append(Self.repeatResult(event, of: first.event, at: first.position)); continue
                    }
                    if let p = storedPosition {
                        guard let stored = try database.get(Keys.logKey(p)) else {
                            throw StoreError.corrupt("the idempotency index names position \(p), which the log does not hold")
                        }
                        out.append(Self.repeatResult(event, of: try Event(encoded: stored), at: p)); continue
                    }
                    event.position = head + 1
                    event.ingestTime = ingest
                    // Identity decisions (a local record's match) go into the log before the
                    // event they are for, in the same group; a steward's is completed.
                    do {
                        if let resolved = try projection.identityEvents(for: event, at: head + 1, now: ingest) {
                            for var decision in resolved.decisions {
                                decision.position = head + 1
                                decision.ingestTime = ingest
                                // A matcher's decision fits the state it was made on: never refused.
                                try projection.apply(decision, into: batch)
                                appendApplied(decision, Identity(Keys.idempotencyKey(source: decision.source, id: decision.id)))
                            }
                            event = resolved.event
                            event.position = head + 1
                        }
                        try projection.apply(event, into: batch)
                    } catch let rejection as EventRejection {
                        out.append(.rejected(rejection)); continue
                    }
                    appendApplied(event, identity)
                    out.append(.accepted(position: head))
                }
                results.append(out)
            }
            if let done = run { batch.put(done.key, done.value) }
            if heldIndexes.spillDue { heldIndexes.spill(into: batch) }
            if let applied { batch.put(Keys.appliedSequence, Keys.be(applied)) }
            projection.finishBatch(into: batch)
        } catch {
            // A read failed while building: nothing of this group is written, and since the
            // caches may hold part of it, no batch may be written until they are reloaded.
            poison.set()
            head = startHead
            let failure = error
            return InFlight(group: group, results: [], accepted: 0, startHead: startHead,
                            commit: Promise(.failure(failure)))
        }
        // Handed to the commit thread: this actor never touches the batch again.
        let file = tableFileDirectory.map { "\($0)/group-\(startHead + 1).sst" }
        if markerDue && (accepted > 0 || applied != nil) {
            // Held indexes are written at the load's end: until then the marker says so.
            batch.put(Keys.lateGoldenRecordsMarker, heldIndexes.waitsToBeWritten ? Keys.loadMarkerHeldIndexes : [1])
            markerDue = false
        }
        // A large append's caller is answered by the commit thread as soon as its group is
        // durable, not when this actor next gets to it: that waited for the fold of the group
        // built meanwhile, half a fold on average (see ``answersOnDurability(_:inBulkLoad:)``). The
        // observers hear of the commit first, as the writer tells them before it answers, so a
        // caller that reads the change feed or the metrics after its answer finds its group there.
        let promises = group.map(\.promise)
        let committed = accepted > 0 ? onCommit : nil, changed = accepted > 0 ? onChanges : nil
        let changeHead = projection.changeHead
        let buildSeconds = Double(DispatchTime.now().uptimeNanoseconds - building) / 1e9
        let answer: (@Sendable (Double) -> Void)? = Self.answersOnDurability(group, inBulkLoad: file != nil) ? { @Sendable [results, accepted] seconds in
            committed?(GroupCommit(events: accepted, buildSeconds: buildSeconds, writeSeconds: seconds))
            changed?(changeHead)
            for (promise, r) in zip(promises, results) { promise.complete(.success(r)) }
        } : nil
        let writes = accepted > 0 || applied != nil
        let commit = writes
            ? EventStore.commit(batch, database: database, tableFile: file, sync: syncsCommits, queue: commitQueue, poison: poison,
                                done: arrivals, answer: answer)
            : Promise(.success(0))
        return InFlight(group: group, results: results, accepted: accepted, startHead: startHead, commit: commit,
                        buildSeconds: buildSeconds, identities: identities, changeHead: changeHead, batch: batchNumber,
                        answered: answer != nil && writes)
    }

    /// Whether `group`'s callers are answered by the commit thread the moment its batch is
    /// durable: a group of one large append (an HTTP bulk request, ``largeAppend`` events or
    /// more), outside a bulk load. Such a caller waits to send its next request, and the
    /// writer, folding the next group meanwhile, would answer only after that fold.
    ///
    /// Appends that share a group are still answered by the writer: single publishes answered
    /// from the commit thread ran ahead of the change feed's subscribers' wake-ups and made
    /// publish → SSE slower (Benchmarks/RESULTS.md). So is a bulk load's every group: an
    /// import keeps several chunks in flight, waits for no single one, and must end the load
    /// only once the writer has settled every group. A promise is completed once; the
    /// writer's later completion of callers already answered changes nothing.
    static func answersOnDurability(_ group: [PendingAppend], inBulkLoad: Bool) -> Bool {
        !inBulkLoad && group.count == 1 && group[0].events.count >= largeAppend
    }

    private let poison = Poison()
    /// The next group that commits writes the bulk load's marker (see ``setBulkLoading(_:)``):
    /// the first whose records the store may lack.
    private var markerDue = false

    /// Writes (records, keys) up to which a group is encoded on the commit thread itself.
    static let inlineEncodingLimit = 256

    /// A group's writes made ready to write, handed from the thread that encoded them to
    /// the commit thread (which alone touches them from then on): a batch in key order, or
    /// the table files to ingest.
    private enum EncodedGroup: @unchecked Sendable {
        case batch(WriteBatch)
        case files([SortedFile])
    }

    /// Writes a group on the serial commit thread: its batch with a synced WAL, or, given a
    /// `tableFile` path, the table files it was written into, ingested; the promise is
    /// completed with the seconds the commit thread spent on it.
    ///
    /// Everything up to that point (records to bytes, a name's blocking keys, the sort, the
    /// table files themselves) starts at once on a thread of its own, beside the write of the
    /// group before, which it does not depend on: only the writes and the ingests are serial.
    /// A small group (``inlineEncodingLimit``) is encoded on the commit thread instead.
    /// Both are queued here, before this returns, so groups are written in the order they
    /// were built. After a failed commit every later group is refused (its table files
    /// removed) until the writer has reloaded its state. Given `files`, the group is the table
    /// files it writes at `tableFile`, instead of `writes` (a load's held indexes, gathered
    /// and sorted on that thread, off the fold's).
    private static func commit(_ writes: DeferredWrites, database: Database, tableFile: String?, sync: Bool,
                               queue: DispatchQueue, poison: Poison, done: Wakeup,
                               answer: (@Sendable (Double) -> Void)? = nil,
                               files: (@Sendable (String) throws -> [SortedFile])? = nil) -> Promise<Double> {
        let encoded = Promise<EncodedGroup>()
        // A small group (single publishes) is encoded on the commit thread itself: its
        // encoding is short beside the sync, and a thread of its own cost more in wake-ups
        // (a dispatch worker woken, then the commit thread woken by its semaphore).
        let inline = tableFile == nil && writes.count <= Self.inlineEncodingLimit
        let encode: @Sendable () -> Void = {
            if let files, let tableFile {
                do { encoded.complete(.success(.files(try files(tableFile)))) } catch { encoded.complete(.failure(error)) }
                return
            }
            let ordered = OrderedWriteBatch(capacity: writes.count)
            writes.replay(into: ordered)
            guard let tableFile else { encoded.complete(.success(.batch(ordered.build(families: database.families)))); return }
            do {
                let files = try writeGroupFiles(ordered, database: database, path: tableFile)
                encoded.complete(.success(.files(files)))
            } catch {
                encoded.complete(.failure(error))
            }
        }
        if !inline { DispatchQueue.global(qos: .userInitiated).async(execute: encode) }
        let written = Promise<Double>()
        queue.async {
            if inline { encode() }
            let refusal: StoreError? = poison.failure.map { .writerFailed($0) } ?? (poison.isSet ? .corrupt("an earlier commit failed") : nil)
            if let refusal {
                // Never ingested: the files of a refused group are not part of the store.
                if case .files(let files)? = try? encoded.wait() { for f in files { try? FileManager.default.removeItem(atPath: f.path) } }
                written.complete(.failure(refusal))
                done.notify()
                return
            }
            let started = DispatchTime.now().uptimeNanoseconds
            do {
                switch try encoded.wait() {
                case .batch(let batch): try database.write(batch, sync: sync)
                case .files(let files): try database.ingest(files)
                }
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
                written.complete(.success(seconds))
                answer?(seconds)
            } catch {
                poison.set()
                written.complete(.failure(error))
            }
            done.notify()
        }
        return written
    }

    /// Level 0's triggers while a bulk load runs (on) or for the merge it ends with (off): a
    /// load's groups each add two files to level 0, merged once the load ends, not while the
    /// fold needs both cores. The closing merge starts at four files, RocksDB's default, below
    /// the store's own trigger (``DatabaseOptions/levelZeroCompactionTrigger``): a small load
    /// leaves level 0 merged too, and the loads wait for that merge and exit.
    ///
    /// The merge a load ends with runs with nothing beside it, so it is cut in parts, one
    /// thread each (``closingPartSize(levelZeroBytes:)``). During the load, parts stay at
    /// least the size a store opens with (RocksDB's 64 MiB): a merge split while the fold and
    /// the validation hold both cores gains nothing and costs CPU (a 10⁶-event registry
    /// import, hand runs: 25.9 s against 24.7, its compactions' CPU 16.2 s against 12.9). The
    /// smaller size stays after the load: the loads (`yidang import`, `bench-bulk-ceiling
    /// --as-import`) wait for the merge and exit, and a store opened anew starts at 64 MiB.
    /// - Throws: ``RocksDBError`` when RocksDB refuses the options or cannot list its files.
    static func setLoadTriggers(_ on: Bool, database: Database) throws {
        if on {
            try database.setTargetFileSize(DatabaseOptions().targetFileSize)
            try database.setLevel0Triggers(compaction: 32, slowdown: 40, stop: 48)
        } else {
            // Before the trigger falls: the merge is prepared as soon as it does.
            let levelZero = try database.liveTableFiles().reduce(0) { $0 + ($1.level == 0 ? $1.size : 0) }
            try database.setTargetFileSize(closingPartSize(levelZeroBytes: levelZero))
            try database.setLevel0Triggers(compaction: 4)
        }
    }

    /// Whether no table file of level 0 has a key range that reaches into `lower..<upper`.
    /// - Throws: ``RocksDBError`` when RocksDB cannot list its files.
    static func levelZeroSpares(from lower: [UInt8], to upper: [UInt8], database: Database) throws -> Bool {
        try database.liveTableFiles().allSatisfy { file in
            file.level != 0 || !file.smallestKey.lexicographicallyPrecedes(upper) || file.largestKey.lexicographicallyPrecedes(lower)
        }
    }

    /// The least part of the merge a bulk load ends with, and the size of the files it
    /// writes: level 0's bytes over 48, at least 1 MiB and at most RocksDB's 64 MiB.
    ///
    /// RocksDB cuts a compaction into parts of about equal bytes, none smaller than this,
    /// and at most ``DatabaseOptions/maxSubcompactions`` (twelve). Equal bytes are not equal
    /// work: the registry snapshot's merge (48 MB) is a quarter index keys of ~35 bytes and
    /// three quarters golden records of ~900, and cut in three parts by bytes, the part of
    /// the small keys held 352,000 of the 392,000 records and ran 400 ms after the other two
    /// had finished (RocksDB's LOG). Cut in twelve, the small keys are parts of their own,
    /// and the two cores share them: hand runs, six alternations, the closing merges
    /// took a median of 485 → 324 ms (their CPU 560 → 586 ms). Past 48 MiB of level 0 the
    /// parts grow rather than the files shrink: a 10⁶-event load's merge would otherwise
    /// leave hundreds of 1 MiB files in level 1.
    static func closingPartSize(levelZeroBytes: Int) -> UInt64 {
        UInt64(min(64 << 20, max(1 << 20, levelZeroBytes / 48)))
    }

    /// Writes a bulk load's sorted group into the table files that ingest it, and returns
    /// the paths of those that hold keys (a file given no key is never finished).
    ///
    /// The log's entries and the change feed's each come after every position of their kind
    /// stored: in files of their own they overlap no stored key, so RocksDB puts them in the
    /// last level, compressed, where no compaction rewrites them (written with the indexes,
    /// the change feed was a third of what the import's closing compaction merged), and
    /// without a filter: a lookup of a position finds it. The change feed's file is not read
    /// back into the page cache (subscribers read it later, in order, if at all). The
    /// indexes, golden records, blocking keys and counters overlap earlier groups and land in
    /// level 0, written plain like a flush; compaction compresses them. The files' key ranges
    /// must not overlap one another: RocksDB puts every file of an ingest in level 0 if two do.
    /// - Throws: ``RocksDBError`` when a file cannot be written.
    static func writeGroupFiles(_ ordered: OrderedWriteBatch, database: Database, path: String) throws -> [SortedFile] {
        let log = try database.sortedFileWriter(path: path + ".log", compressed: true, filtered: false)
        let low = try database.sortedFileWriter(path: path + ".low", compressed: false)
        let changes = try database.sortedFileWriter(path: path + ".changes", compressed: true, filtered: false, cached: false)
        let high = try database.sortedFileWriter(path: path, compressed: false)
        try ordered.write(to: [log, low, changes, high], splitAt: [Keys.log + 1, Keys.change, Keys.change + 1])
        // Unfinished files are never part of the store, so failing to remove one loses nothing.
        var files: [SortedFile] = []
        for file in [log, low, changes, high] {
            if try file.finish() { files.append(file.file) } else { try? FileManager.default.removeItem(atPath: file.path) }
        }
        return files
    }

    /// Writes the golden records a bulk load kept waiting, queued after every group already
    /// in flight, and removes its marker with the last of them. The fold has ended: they are
    /// split in one commit per core, encoded side by side.
    private func writeLateGoldenRecords() async throws {
        // The log's held indexes, queued first: they are sorted and written on other threads
        // while this one sorts the golden records.
        var commits: [Promise<Double>] = []
        let unwritten = heldIndexes.waitsToBeWritten
        // Taken also when a group took them (a released load): they were kept for lookups.
        let held = heldIndexes.take()
        if unwritten {
            let database = database
            let writers: [@Sendable (String) throws -> [SortedFile]] = [
                { try held.writeRuns(database: database, path: $0) }, { try held.writeKeys(database: database, path: $0) }]
            commits = writers.enumerated().map { n, writer in
                EventStore.commit(DeferredWrites(), database: database, tableFile: "\(groupFileDirectory)/log-indexes-\(head)-\(n).sst",
                                  sync: true, queue: commitQueue, poison: poison, done: arrivals, files: writer)
            }
        }
        let batches = (0..<max(1, ProcessInfo.processInfo.activeProcessorCount)).map { _ in DeferredWrites(coldGoldens: true) }
        projection.writeLateGoldenRecords(into: batches)
        // No group committed: no marker was written, and every record is stored.
        if markerDue { markerDue = false; return }
        batches[batches.count - 1].delete(Keys.lateGoldenRecordsMarker)
        // Each commit but the last, which removes the marker, holds some records.
        commits += batches.enumerated().filter { $0.offset == batches.count - 1 || $0.element.count > 0 }.map { n, batch in
            EventStore.commit(batch, database: database, tableFile: tableFileDirectory.map { "\($0)/golden-records-\(head)-\(n).sst" },
                              sync: true, queue: commitQueue, poison: poison, done: arrivals)
        }
        do {
            for commit in commits { _ = try await commit.value }
        } catch {
            // The caches no longer count those records as waiting: a writer that went on
            // would build on stored records that lag the log. The marker stays, and the next
            // open rebuilds them.
            poison.fail("writing a bulk load's golden records failed (\(error)); reopen the store, which rebuilds them from the log")
            throw error
        }
    }

    /// Hands the projection caches to a background thread to be freed, when no group is
    /// being written (every cached record is durable then, and is re-read intact if the
    /// store is used again). For closing: freeing a large cache took a tenth of a second at
    /// the end of every bulk import, and a process that exits need not wait for it.
    public func releaseCaches() {
        // Records a bulk load still waits to write are the only copy of their golden records.
        guard inbox.withLock({ !$0.flushing && $0.pending.isEmpty }), !projection.writesGoldenRecordsLate else { return }
        let retired = projection.takeCaches()
        DispatchQueue.global(qos: .utility).async { retired.free() }
    }

    /// Adds rejections to the departments' counts (department → reason → number), read and
    /// written on this actor so concurrent callers never lose an increment.
    /// - Throws: ``RocksDBError`` when a count cannot be read or written.
    public func recordRejections(_ counts: [String: [String: UInt64]]) throws {
        let batch = WriteBatch()
        for (dept, reasons) in counts {
            for (reason, n) in reasons {
                let key = Keys.rejectionKey(dept, reason)
                let current = try database.get(key).map { Keys.readBE($0) } ?? 0
                batch.put(key, Keys.be(current + n))
            }
        }
        try database.write(batch, sync: false)
    }
}

/// A handle on submitted events.
public struct CommitTicket: Sendable {
    let promise: Promise<[AppendResult]>
    /// The events' results, once durable.
    public var results: [AppendResult] { get async throws { try await promise.value } }
}

public enum StoreError: Error, CustomStringConvertible {
    case projectionBehind(log: UInt64, projected: UInt64)
    case rebuildUnfinished
    /// A bulk load stopped before writing the golden records it kept waiting.
    case loadUnfinished
    case corrupt(String)
    case notFound(String)
    /// A file could not be read: what, and the system's reason.
    case unreadable(String, reason: String)
    /// The writer stopped accepting events (see ``EventStore/failure``).
    case writerFailed(String)
    public var description: String {
        switch self {
        case let .projectionBehind(log, projected):
            return "the projection is at position \(projected) but the log is at \(log); run `yidang rebuild`"
        case .rebuildUnfinished: return "a rebuild was interrupted; run `yidang rebuild` again"
        case .loadUnfinished:
            return "an import stopped before writing its golden records (its events are stored); run `yidang rebuild`"
        case .corrupt(let what): return "corrupt store: \(what)"
        case .notFound(let what): return "\(what) not found"
        case let .unreadable(what, reason): return "cannot read \(what): \(reason)"
        case .writerFailed(let why): return "the writer has stopped accepting events: \(why); restart the hub"
        }
    }
}

/// Set on the commit thread when a write fails; later batches are refused until cleared,
/// or for good once the writer could not recover (``fail(_:)``).
final class Poison: Sendable {
    private struct State { var set = false; var failure: String? }
    private let state = Mutex(State())
    var isSet: Bool { state.withLock { $0.set } }
    /// Why the writer stopped for good, if it did.
    var failure: String? { state.withLock { $0.failure } }
    func set() { state.withLock { $0.set = true } }
    /// Clears a transient failure; a permanent one stays.
    func clear() { state.withLock { if $0.failure == nil { $0.set = false } } }
    func fail(_ reason: String) { state.withLock { $0.set = true; $0.failure = reason } }
}
