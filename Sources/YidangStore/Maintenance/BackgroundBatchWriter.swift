import Dispatch
import Foundation
import RocksDB
import Synchronization

/// Encodes and writes a replay's batches on its own thread while the fold goes on, so a
/// rebuild uses its cores for the fold: the fold's thread only folds; this one encodes
/// records and writes them — change records into ``ReplayFiles``, the rest into RocksDB's
/// memtable.
///
/// Batches are written in submission order without the WAL (the caller flushes at the
/// end). At most `depth` batches wait, bounding memory. After a failed write the later
/// batches are skipped and the next ``submit(_:)`` or ``drain()`` throws its error.
final class BackgroundBatchWriter: @unchecked Sendable {
    private let database: Database
    private let queue = DispatchQueue(label: "yidang.replay.write")
    private let slots: DispatchSemaphore
    private let failure = Mutex<(any Error)?>(nil)
    /// Where the change records go instead of the batches.
    private let replayFiles: ReplayFiles

    init(database: Database, replayFiles: ReplayFiles, depth: Int = 2) {
        self.database = database
        self.replayFiles = replayFiles
        self.slots = DispatchSemaphore(value: max(1, depth))
    }

    /// Batches submitted, and batches done (written, or skipped after a failure).
    private var submitted = 0
    private let done = NSCondition()
    private var doneCount = 0

    /// Queues `writes` behind those already submitted; blocks while `depth` batches wait.
    /// - Returns: the batch's number (1 for the first), for ``waitUntilWritten(through:)``.
    /// - Throws: the error of an earlier batch's write.
    @discardableResult
    func submit(_ writes: DeferredWrites) throws -> Int {
        try rethrow()
        slots.wait()
        submitted += 1
        queue.async { [self] in
            defer {
                done.lock()
                doneCount += 1
                done.broadcast()
                done.unlock()
                slots.signal()
            }
            guard failure.withLock({ $0 == nil }) else { return }
            do {
                // Without the change records a batch is a few thousand random keys (links,
                // conflicts, golden records leaving the cache): in key order they are inserted
                // next to each other.
                let ordered = OrderedWriteBatch(capacity: writes.count)
                try writes.replay(into: ordered, replayFiles: replayFiles)
                try database.write(ordered.build(families: database.families), sync: false, logged: false)
            } catch {
                failure.withLock { $0 = error }
            }
        }
        return submitted
    }

    /// Returns once the batches numbered up to `number` are written (the later ones may not be).
    /// - Throws: the error of a failed write.
    func waitUntilWritten(through number: Int) throws {
        done.lock()
        while doneCount < number { done.wait() }
        done.unlock()
        try rethrow()
    }

    /// Returns once every submitted batch is written.
    /// - Throws: the error of a failed write.
    func drain() throws {
        try waitUntilWritten(through: submitted)
    }

    /// Frees a replay's caches on the writer thread, after the batches submitted before:
    /// freeing them takes a while, and the caller has the final flush to start meanwhile.
    func free(_ caches: RetiredCaches) {
        queue.async { caches.free() }
    }

    private func rethrow() throws {
        if let error = failure.withLock({ $0 }) { throw error }
    }
}
