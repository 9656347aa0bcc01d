import Dispatch
import Foundation
import RocksDB
import Synchronization

/// Counts the subjects a store's log names, on its own thread, while a replay begins.
///
/// A replay sizes its subject cache by it (``ProjectionWriter/fittingGenerationSize(subjects:ceiling:)``),
/// but counting first would put the count on the replay's critical path: ~0.1 s for the
/// registry snapshot's 50,000 subjects, read from its subject index (or its golden records)
/// across a dozen level-0 files, against a 2–2.5 s replay. The count reads the log's subject
/// index, which no replay writes (it is the log's, not derived), so it may run beside one
/// that empties the derived key space of the same store.
///
/// Guarantees: ``result()`` is nil until the count is done, then the number of distinct
/// subjects, or `limit + 1` when there are more than `limit`; a count that failed reads as
/// nil for good (the cache then keeps its default size: the count is an optimization).
/// ``finish()`` returns once the thread no longer reads the store; call it before the store
/// may close.
final class SubjectCensus: Sendable {
    private let counted = Mutex<Int?>(nil)
    private let done = DispatchGroup()

    init(of database: Database, upTo limit: Int) {
        done.enter()
        // Its own thread, as the replay's reading ahead has: never queued behind another's work.
        Thread.detachNewThread { [self] in
            defer { done.leave() }
            // One key per run of a subject, keyed by its first position: a subject's runs are
            // adjacent. Keys are read where the iterator holds them (copying each key and value
            // was a third of the count's instructions), and the blocks stay out of the cache:
            // the replay reads this index again only to refold a record an unmerge splits.
            var n = 0
            var previous: [UInt8] = []
            do {
                try database.scanKeys(from: [Keys.subjectIndex], to: [Keys.subjectIndex + 1], cachingBlocks: false) { key in
                    guard let subject = Keys.subjectPart(ofIndexKey: key) else { return true }
                    if !subject.elementsEqual(previous) {
                        n += 1
                        previous.removeAll(keepingCapacity: true)
                        previous.append(contentsOf: subject)
                    }
                    return n <= limit
                }
            } catch {
                return
            }
            counted.withLock { $0 = n }
        }
    }

    /// The count once it is done (see the type's guarantees).
    func result() -> Int? { counted.withLock { $0 } }

    /// Waits until the count no longer reads the store.
    func finish() { done.wait() }
}
