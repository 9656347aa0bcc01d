import Foundation
import Logging
import Synchronization
import NATS
import YidangModel
import YidangStore

extension ReplicatedLog {
    /// An entry handed to the writer, not yet known durable.
    struct Applying: Sendable {
        let sequence: UInt64
        let ticket: CommitTicket
        /// Done once the entry is durable (a revocation's cache purge).
        var after: (@Sendable () throws -> Void)?
    }

    /// Applies the stream to this node's store, in order, until cancelled. A failure (a
    /// commit that failed, NATS gone) is logged and applying starts again from the last
    /// entry the store holds.
    public func run() async {
        while !Task.isCancelled {
            do {
                try await applyOnce()
            } catch is CancellationError {
                return
            } catch {
                logger.error("applying the replicated log stopped; starting again from the last entry applied: \(error)")
                try? await Task.sleep(for: .milliseconds(500))
            }
        }
    }

    /// Entries handed to the writer and not yet known durable, at most.
    static let entriesInFlight = 4_096

    /// Reads entries from the one after the last the store holds and applies them, until a
    /// failure or cancellation. A thread of its own reads the stream (nats.c blocks) and
    /// hands each entry to the writer at once; this task takes their results in order. So
    /// the writer builds the next entries while earlier ones are made durable, with no hop
    /// through a queue per entry.
    private func applyOnce() async throws {
        let start = try hub.store.appliedSequence() + 1
        let consumer = try await connection.offloaded { [connection, settings] in
            try OrderedConsumer(connection: connection, stream: settings.stream, subject: settings.subject,
                                startSequence: start, headers: LogEntry.headers)
        }
        let (entries, continuation) = AsyncThrowingStream<Applying, any Error>.makeStream()
        let reader = EntryReader(consumer: consumer, start: start, window: Self.entriesInFlight)
        let thread = Thread { [self] in reader.read(submit: submit, into: continuation) }
        thread.start()
        do {
            try await withTaskCancellationHandler {
                for try await entry in entries {
                    let results = try await entry.ticket.results
                    try entry.after?()
                    finish(entry.sequence, results)
                    reader.window.signal()
                }
            } onCancel: {
                reader.requestStop()
            }
        } catch {
            await stop(reader)
            throw error
        }
        await stop(reader)
        try Task.checkCancellation()
    }

    /// Ends the reading thread (waiting for it off the cooperative pool) and its consumer.
    private func stop(_ reader: EntryReader) async {
        reader.requestStop()
        _ = try? await connection.offloadedConcurrently { reader.stop() }
    }
    /// Hands one entry to the writer with its sequence and time.
    func submit(_ message: SequencedMessage) -> Applying {
        let stamp = ReplicaStamp(sequence: message.sequence,
                                 time: message.headers[LogEntry.timeHeader].flatMap { Int64($0) } ?? 0)
        let store = hub.store
        let entry: LogEntry
        do {
            entry = try LogEntry(kind: message.headers[LogEntry.kindHeader], body: message.data)
        } catch {
            // Every replica reads the same bytes and skips them the same way.
            logger.error("skipping entry \(message.sequence) of the replicated log: \(error)")
            return Applying(sequence: message.sequence, ticket: store.submit([], stamp: stamp))
        }
        switch entry {
        case .events(let events, let isolated):
            return Applying(sequence: message.sequence, ticket: store.submit(events, isolated: isolated, stamp: stamp))
        case .rejections(let counts):
            // Read-modify-write of counters: built alone, once everything before is durable.
            return Applying(sequence: message.sequence,
                            ticket: store.submit([], isolated: true, stamp: stamp, effect: RejectionEffect.adding(counts)))
        case .token(_, let key, let record):
            return Applying(sequence: message.sequence, ticket: store.submit([], stamp: stamp, effect: { _ in [(key, record)] }))
        case .revocation(let id):
            let tokens = self.tokens
            return Applying(sequence: message.sequence,
                            ticket: store.submit([], stamp: stamp, effect: tokens.revocationEffect(id: id)),
                            after: { try tokens.revoked(id: id) })
        case .subscription(let write):
            // Read-modify-write of the stored record (a cursor never moves back): built alone.
            let applier = subscriptions
            return Applying(sequence: message.sequence,
                            ticket: store.submit([], isolated: true, stamp: stamp,
                                                 effect: SubscriptionRecords.effect(write, applier: applier)),
                            after: { try applier.applied(id: write.id) })
        }
    }
}

/// The thread that reads the log stream for ``ReplicatedLog/run()``: in order, each entry
/// once, at most `window` entries ahead of those applied.
final class EntryReader: Sendable {
    let consumer: OrderedConsumer
    let start: UInt64
    /// Signalled once per entry applied.
    let window: DispatchSemaphore
    private let stopped = Atomic<Bool>(false)
    /// Signalled when the thread has ended (the consumer may then be closed).
    private let ended = DispatchSemaphore(value: 0)

    init(consumer: OrderedConsumer, start: UInt64, window: Int) {
        self.consumer = consumer
        self.start = start
        self.window = DispatchSemaphore(value: window)
    }

    /// Asks the thread to end (it notices within 200 ms).
    func requestStop() { stopped.store(true, ordering: .releasing) }

    /// Asks the thread to end, waits for it, and closes the consumer. Idempotent.
    func stop() {
        requestStop()
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        ended.wait()
        consumer.close()
    }
    private let closed = Atomic<Bool>(false)

    private var isStopped: Bool { stopped.load(ordering: .acquiring) }

    func read(submit: (SequencedMessage) -> ReplicatedLog.Applying,
              into continuation: AsyncThrowingStream<ReplicatedLog.Applying, any Error>.Continuation) {
        defer { ended.signal() }
        var expected = start
        do {
            while !isStopped {
                for message in try consumer.next(batch: 256, timeoutMilliseconds: 200) {
                    if message.sequence < expected { continue }   // delivered again after a reset
                    guard message.sequence == expected else {
                        throw LogEntryError("a gap: entry \(message.sequence) came when \(expected) was next")
                    }
                    while window.wait(timeout: .now() + .milliseconds(200)) == .timedOut {
                        if isStopped { continuation.finish(); return }
                    }
                    continuation.yield(submit(message))
                    expected += 1
                }
            }
            continuation.finish()
        } catch {
            continuation.finish(throwing: error)
        }
    }
}
