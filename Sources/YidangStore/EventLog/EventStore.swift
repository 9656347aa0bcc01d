import Dispatch
import Foundation
import Logging
import Synchronization
import RocksDB
import YidangModel
import YidangProjection

/// The hub's single writer: appends events to the log and updates the projection and
/// the change feed in the same RocksDB `WriteBatch`.
///
/// Guarantees:
/// - **Durable**: `append` returns only after the batch holding the events, their
///   projection and their change records is written with a synced WAL.
/// - **Group commit**: appends that arrive while a commit is in flight are gathered into
///   the next single batch.
/// - **Idempotent**: (`source`, `id`) is unique; a repeat returns the original position.
/// - **Ordered**: positions are 1, 2, 3… in commit order, and submission order is kept.
public actor EventStore {
    public nonisolated let database: Database
    public nonisolated let configuration: Configuration
    private let projection: ProjectionWriter
    private let commitQueue = DispatchQueue(label: "yidang.commit")
    private var head: UInt64
    private var pending: [PendingAppend] = []
    private var flushing = false
    private let logger: Logger
    /// Hook for metrics: (events in batch, commit seconds).
    private var onCommit: (@Sendable (Int, Double) -> Void)?
    private let clock: @Sendable () -> Int64

    struct PendingAppend {
        let events: [Event]
        let promise: Promise<[AppendResult]>
    }

    /// Opens the writer on `database`, catching the projection up with the log if an
    /// earlier process stopped between the two (never the case for batches it wrote).
    public init(database: Database, configuration: Configuration, logger: Logger = Logger(label: "yidang.store"),
                clock: @escaping @Sendable () -> Int64 = EventStore.now, projectionCacheLimit: Int = 50_000) throws {
        self.database = database
        self.configuration = configuration
        self.logger = logger
        self.clock = clock
        self.projection = try ProjectionWriter(configuration: configuration, cacheLimit: projectionCacheLimit) { try database.get($0) }
        self.head = try StoreReader(database: database, configuration: configuration).headPosition()
        if try database.get(Keys.rebuildMarker) != nil { throw StoreError.rebuildUnfinished }
        guard projection.projectedPosition == head else {
            throw StoreError.projectionBehind(log: head, projected: projection.projectedPosition)
        }
    }

    public static let now: @Sendable () -> Int64 = {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000
    }

    public func setCommitObserver(_ observer: @escaping @Sendable (Int, Double) -> Void) { onCommit = observer }

    /// Called after each durable commit with the new change-feed head.
    private var onChanges: (@Sendable (UInt64) -> Void)?
    public func setChangeObserver(_ observer: @escaping @Sendable (UInt64) -> Void) { onChanges = observer }

    /// The last stored position (0 when empty).
    public var headPosition: UInt64 { head }

    /// Appends events and waits until they are durable.
    /// Each event gets its own result; one event's rejection does not affect the others.
    /// - Throws: ``RocksDBError`` when the commit fails (then nothing of the group was stored).
    public func append(_ events: [Event]) async throws -> [AppendResult] {
        try await submit(events).results
    }

    /// Queues events behind those already submitted and returns at once; await
    /// ``CommitTicket/results`` for their fate. Lets a bulk loader keep the writer busy
    /// while it validates the next chunk.
    public func submit(_ events: [Event]) -> CommitTicket {
        let promise = Promise<[AppendResult]>()
        pending.append(PendingAppend(events: events, promise: promise))
        if !flushing {
            flushing = true
            Task { await self.flush() }
        }
        return CommitTicket(promise: promise)
    }

    /// A group whose batch is written (or being written) on the commit thread.
    private struct InFlight {
        let group: [PendingAppend]
        let results: [[AppendResult]]
        let accepted: Int
        let startHead: UInt64
        let commit: Task<Double, any Error>
        /// Its (source, id) identities in ``unsettled``, forgotten once it is durable.
        var identities: [Identity] = []
        /// The change-feed head once it is durable.
        var changeHead: UInt64 = 0
    }

    /// Identities (idempotency keys) appended by groups not yet known durable, so a
    /// duplicate across two in-flight groups is caught.
    private var unsettled: [Identity: UInt64] = [:]

    /// An idempotency key as a dictionary key.
    typealias Identity = ByteKey

    /// Group commit with a two-stage pipeline: while group N's batch is written and synced
    /// on the commit thread, group N+1 is validated against the projection and built. A
    /// group's callers are answered only after its own batch is durable; if a commit fails,
    /// it and every group built on it fail, and the caches are reloaded from disk.
    private func flush() async {
        var previous: InFlight?
        while !pending.isEmpty || previous != nil {
            var current: InFlight?
            // A full cache may only shrink with nothing in flight: then skip one overlap.
            if !pending.isEmpty && !(previous != nil && projection.cacheIsFull) { current = prepare() }
            if let done = previous {
                do {
                    let seconds = try await done.commit.value
                    if done.accepted > 0 { onCommit?(done.accepted, seconds) }
                    for identity in done.identities { unsettled.removeValue(forKey: identity) }
                    // Nothing built on top of it: the caches may shrink.
                    if current == nil { projection.committed() }
                    if done.accepted > 0 { onChanges?(done.changeHead) }
                    for (request, r) in zip(done.group, done.results) { request.promise.complete(.success(r)) }
                } catch {
                    logger.error("commit failed: \(error)")
                    var failed = [done]
                    if let current {
                        _ = try? await current.commit.value   // it refuses to write after a failure
                        failed.append(current)
                    }
                    head = done.startHead
                    unsettled.removeAll()
                    try? projection.reloadCounters()
                    poison.clear()
                    for f in failed { for request in f.group { request.promise.complete(.failure(error)) } }
                    current = nil
                }
            }
            previous = current
        }
        flushing = false
    }

    /// Builds the next group's batch and hands it to the commit thread.
    private func prepare() -> InFlight {
        var group: [PendingAppend] = []
        var size = 0
        while !pending.isEmpty && (group.isEmpty || size + pending[0].events.count <= 20_000) {
            let p = pending.removeFirst()
            size += p.events.count
            group.append(p)
        }
        // Records are kept unencoded: the commit thread encodes, sorts and writes them, which
        // leaves this serial stage the fold alone.
        let batch = DeferredWrites(events: size)
        var results: [[AppendResult]] = []
        let ingest = clock()
        var accepted = 0
        let startHead = head
        var identities: [Identity] = []
        var run: SubjectRun?
        do {
            for request in group {
                var out: [AppendResult] = []
                out.reserveCapacity(request.events.count)
                for var event in request.events {
                    let idemKey = Keys.idempotencyKey(source: event.source, id: event.id)
                    let identity = Identity(idemKey)
                    if let p = unsettled[identity] { out.append(.duplicate(position: p)); continue }
                    if let stored = try database.get(idemKey) { out.append(.duplicate(position: Keys.readBE(stored))); continue }
                    event.position = head + 1
                    event.ingestTime = ingest
                    do {
                        try projection.apply(event, into: batch)
                    } catch let rejection as EventRejection {
                        out.append(.rejected(rejection)); continue
                    }
                    head += 1
                    accepted += 1
                    unsettled[identity] = head
                    identities.append(identity)
                    batch.putEvent(event)
                    if run?.extend(event.subject, head) != true {
                        if let done = run { batch.put(done.key, done.value) }
                        run = SubjectRun(subject: event.subject, position: head)
                    }
                    batch.put(idemKey, Keys.be(head))
                    out.append(.accepted(position: head))
                }
                results.append(out)
            }
            if let done = run { batch.put(done.key, done.value) }
            projection.finishBatch(into: batch)
        } catch {
            // A read failed while building: nothing of this group is written, and since the
            // caches may hold part of it, no batch may be written until they are reloaded.
            poison.set()
            head = startHead
            let failure = error
            return InFlight(group: group, results: [], accepted: 0, startHead: startHead,
                            commit: Task { throw failure })
        }
        // Handed to the commit thread: this actor never touches the batch again.
        let commit: Task<Double, any Error> = accepted > 0
            ? Task { [database, commitQueue, poison] in try await EventStore.commit(batch, database: database, queue: commitQueue, poison: poison) }
            : Task { 0 }
        return InFlight(group: group, results: results, accepted: accepted, startHead: startHead, commit: commit,
                        identities: identities, changeHead: projection.changeHead)
    }

    private let poison = Poison()

    /// Encodes the writes into one batch in key order and writes it with a synced WAL on
    /// the serial commit thread (so batches land in the order they were built); returns the
    /// seconds it took. After a failed commit every later batch is refused until the writer
    /// has reloaded its state.
    private static func commit(_ writes: DeferredWrites, database: Database, queue: DispatchQueue, poison: Poison) async throws -> Double {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Double, any Error>) in
            queue.async {
                if poison.isSet { c.resume(throwing: StoreError.corrupt("an earlier commit failed")); return }
                let started = DispatchTime.now().uptimeNanoseconds
                let ordered = OrderedWriteBatch(capacity: writes.count)
                writes.replay(into: ordered)
                do {
                    try database.write(ordered.build(), sync: true)
                    c.resume(returning: Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9)
                } catch {
                    poison.set()
                    c.resume(throwing: error)
                }
            }
        }
    }

    /// Hands the projection caches to a background thread to be freed, when no group is
    /// being written (every cached record is durable then, and is re-read intact if the
    /// store is used again). For closing: freeing a large cache took a tenth of a second at
    /// the end of every bulk import, and a process that exits need not wait for it.
    public func releaseCaches() {
        guard !flushing, pending.isEmpty else { return }
        let retired = projection.takeCaches()
        DispatchQueue.global(qos: .utility).async { retired.free() }
    }

    /// Counts many rejections at once.
    public func recordRejections(_ counts: [String: [String: UInt64]]) {
        let batch = WriteBatch()
        for (dept, reasons) in counts {
            for (reason, n) in reasons {
                let key = Keys.rejectionKey(dept, reason)
                let current = (try? database.get(key)).flatMap { $0 }.map { Keys.readBE($0) } ?? 0
                batch.put(key, Keys.be(current + n))
            }
        }
        try? database.write(batch, sync: false)
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
    case corrupt(String)
    case notFound(String)
    public var description: String {
        switch self {
        case let .projectionBehind(log, projected):
            return "the projection is at position \(projected) but the log is at \(log); run `yidang rebuild`"
        case .rebuildUnfinished: return "a rebuild was interrupted; run `yidang rebuild` again"
        case .corrupt(let what): return "corrupt store: \(what)"
        case .notFound(let what): return "\(what) not found"
        }
    }
}

/// Set on the commit thread when a write fails; later batches are refused until cleared.
final class Poison: Sendable {
    private let flag = Mutex(false)
    var isSet: Bool { flag.withLock { $0 } }
    func set() { flag.withLock { $0 = true } }
    func clear() { flag.withLock { $0 = false } }
}
