import Dispatch
import Foundation
import RocksDB
import Synchronization
import YidangModel

/// Reads which idempotency keys and golden records a store holds into membership filters,
/// on a thread of its own, for the writer's ``KeyExistence`` filters of a store that was not
/// empty when it opened.
///
/// Keys only, read where the iterator holds them and kept out of the block cache; each key
/// is hashed as its element would be, none is made. The filters are sized for the counts
/// expected (the log's events, the subjects the store counted), so a test reads one block
/// of each, not one per doubling. About 1.25 bytes a key.
///
/// Guarantees: ``result()`` is nil until the census is done, then filters that hold every
/// key stored when each range's read began. A census that failed, or was stopped, reads as
/// ``Outcome/failed(_:)`` or nil for good: the writer then goes on looking every key up.
/// ``stop()`` returns once the thread no longer reads the store; call it before the store
/// may close (a close waits for the reads in flight).
final class StoredKeyCensus: Sendable {
    struct Filters: Sendable {
        var identities: MembershipFilter<ByteKey>
        var subjects: MembershipFilter<Subject>
    }

    enum Outcome: Sendable {
        case done(Filters, seconds: Double)
        case failed(String)
    }

    private let outcome = Mutex<Outcome?>(nil)
    private let stopping = Atomic<Bool>(false)
    private let finished = DispatchGroup()

    /// Starts the census of `database`, which holds about `events` idempotency keys and
    /// `subjects` golden records (nil: as many as events, at most).
    init(of database: Database, events: UInt64, subjects: UInt64?) {
        finished.enter()
        // Its own thread: a read of millions of keys must not hold a worker of the pool the
        // server's handlers run on.
        Thread.detachNewThread { [self] in
            defer { finished.leave() }
            let started = DispatchTime.now().uptimeNanoseconds
            var filters = Filters(identities: MembershipFilter(capacity: Self.capacity(events)),
                                  subjects: MembershipFilter(capacity: Self.capacity(subjects ?? events)))
            do {
                try database.scanKeys(from: [Keys.idempotency], to: [Keys.idempotency + 1], cachingBlocks: false) { key in
                    filters.identities.insert(hashValue: ByteKey.hashValue(of: key))
                    return !stopping.load(ordering: .relaxed)
                }
                try database.scanKeys(from: [Keys.golden], to: [Keys.golden + 1], cachingBlocks: false) { key in
                    if let subject = Keys.subject(ofGoldenKey: key) { filters.subjects.insert(subject) }
                    return !stopping.load(ordering: .relaxed)
                }
            } catch {
                outcome.withLock { $0 = .failed("\(error)") }
                return
            }
            guard !stopping.load(ordering: .relaxed) else { return }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
            outcome.withLock { $0 = .done(filters, seconds: seconds) }
        }
    }

    /// Room for `n` keys and a tenth more (the store grows while the census reads it).
    private static func capacity(_ n: UInt64) -> Int { Int(clamping: n + n / 10 + 1024) }

    /// The outcome once the census has ended (see the type's guarantees).
    func result() -> Outcome? { outcome.withLock { $0 } }

    /// Stops the census, if it still runs, and waits until it no longer reads the store.
    func stop() {
        stopping.store(true, ordering: .relaxed)
        finished.wait()
    }
}
