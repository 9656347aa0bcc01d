import Dispatch
import Foundation
import Synchronization
import YidangModel

extension StoreReader {
    /// Like ``forEachEvent(after:payload:_:)``, with the log read and decoded on another
    /// thread, up to `depth` chunks of `chunkSize` events ahead of `body`.
    ///
    /// For a replay whose fold is the slowest stage of its pipeline: reading and decoding
    /// (about a fifth of the fold thread's time) move to a core that has room for them.
    /// Events reach `body` in log order. When `body` throws, the reading stops and the error
    /// is rethrown; a read error is rethrown after the events before it were delivered.
    public func forEachEventReadingAhead(payload: Bool = true, chunkSize: Int = 1_000, depth: Int = 4,
                                         _ body: (Event) throws -> Void) throws {
        let chunks = EventChunks(depth: depth)
        let finished = DispatchGroup()
        finished.enter()
        // A thread of its own, not a worker of the global queue: on two cores that pool may
        // have no worker free (the caller's task holds one, the subject census another), and
        // the fold then waited for the census before its first event (50 ms of a 1 s replay
        // of the registry snapshot, perf's timeline).
        Thread.detachNewThread { [self] in
            defer { finished.leave() }
            do {
                var chunk: [Event] = []
                chunk.reserveCapacity(chunkSize)
                try forEachEvent(payload: payload) { event in
                    chunk.append(event)
                    if chunk.count >= chunkSize {
                        chunks.freeRecycled()
                        guard chunks.put(chunk) else { throw EventChunks.Stopped() }
                        chunk = []
                        chunk.reserveCapacity(chunkSize)
                    }
                }
                if !chunk.isEmpty, !chunks.put(chunk) { throw EventChunks.Stopped() }
                chunks.finish(nil)
            } catch {
                chunks.finish(error)
            }
        }
        defer {
            chunks.stop()
            finished.wait()
        }
        while let chunk = try chunks.take() {
            for event in chunk { try body(event) }
            chunks.recycle(consume chunk)
        }
    }
}

/// Chunks of decoded events handed from a reading thread to a folding one, at most `depth`
/// waiting. `put` blocks while that many wait; `take` blocks until one is ready or the reader
/// has finished.
final class EventChunks: Sendable {
    struct Stopped: Error {}

    private struct State {
        var ready: [[Event]] = []
        /// Chunks the consumer is done with, freed by the reader.
        var recycled: [[Event]] = []
        var done = false
        var error: (any Error)?
        var stopped = false
    }
    private let state = Mutex(State())
    private let filled = DispatchSemaphore(value: 0)
    /// Created empty and signalled `depth` times: libdispatch traps when a semaphore is freed
    /// below the value it was created with, which a consumer that stops early leaves.
    private let room = DispatchSemaphore(value: 0)

    init(depth: Int) {
        for _ in 0..<max(1, depth) { room.signal() }
    }

    /// Queues a chunk; false when the consumer has stopped (the reader should end).
    func put(_ chunk: [Event]) -> Bool {
        room.wait()
        let accepted = state.withLock { s -> Bool in
            guard !s.stopped else { return false }
            s.ready.append(chunk)
            return true
        }
        if accepted { filled.signal() }
        return accepted
    }

    /// Marks the end of the log (or the read error that ended it).
    func finish(_ error: (any Error)?) {
        state.withLock { s in
            s.done = true
            s.error = error
        }
        filled.signal()
    }

    /// The next chunk; nil at the end of the log.
    /// - Throws: the reader's error, once the chunks before it are taken.
    func take() throws -> [Event]? {
        while true {
            filled.wait()
            let next = try state.withLock { s throws -> [Event]?? in
                if !s.ready.isEmpty { return .some(s.ready.removeFirst()) }
                if s.done {
                    if let error = s.error, !(error is Stopped) { throw error }
                    return .some(nil)
                }
                return nil
            }
            if let next {
                if next != nil { room.signal() }
                else { filled.signal() }   // the end stays visible to a later take
                return next
            }
        }
    }

    /// Hands a folded chunk back, to be freed on the reading thread by ``freeRecycled()``: the
    /// thread that allocated the events frees them from its own allocator cache, and the
    /// consumer (the slowest stage) does not spend its time on it.
    func recycle(_ chunk: [Event]) {
        state.withLock { $0.recycled.append(chunk) }
    }

    /// Frees the chunks handed back (on the reading thread).
    func freeRecycled() {
        let done = state.withLock { s -> [[Event]] in
            defer { s.recycled = [] }
            return s.recycled
        }
        _ = consume done
    }

    /// Tells the reader to stop (the consumer is done or failed) and unblocks it.
    func stop() {
        state.withLock { $0.stopped = true }
        room.signal()
    }
}
