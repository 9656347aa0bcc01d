import Logging
import NATS
import YidangModel
import YidangStore

extension ReplicatedLog {
    /// An entry handed to the writer, not yet known durable.
    private struct Applying {
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
                let start = try hub.store.appliedSequence() + 1
                let consumer = try await connection.offloaded { [connection, settings] in
                    try OrderedConsumer(connection: connection, stream: settings.stream, subject: settings.subject,
                                        startSequence: start, headers: LogEntry.headers)
                }
                defer { consumer.close() }
                try await apply(from: start, consumer)
            } catch is CancellationError {
                return
            } catch {
                logger.error("applying the replicated log stopped; starting again from the last entry applied: \(error)")
                try? await Task.sleep(for: .milliseconds(500))
            }
        }
    }

    /// Reads entries from `start` on and applies them. While the writer makes one batch of
    /// entries durable, the next is read and handed to it.
    private func apply(from start: UInt64, _ consumer: OrderedConsumer) async throws {
        var expected = start
        var previous: [Applying] = []
        while !Task.isCancelled {
            let wait: Int64 = previous.isEmpty ? 500 : 0
            let batch = try await connection.offloaded { try consumer.next(batch: 1_024, timeoutMilliseconds: wait) }
            var current: [Applying] = []
            for message in batch {
                if message.sequence < expected { continue }   // delivered again after a reset
                guard message.sequence == expected else {
                    throw LogEntryError("a gap: entry \(message.sequence) came when \(expected) was next")
                }
                current.append(submit(message))
                expected += 1
            }
            for entry in previous {
                let results = try await entry.ticket.results
                try entry.after?()
                finish(entry.sequence, results)
            }
            previous = current
        }
    }

    /// Hands one entry to the writer with its sequence and time.
    private func submit(_ message: SequencedMessage) -> Applying {
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
        }
    }
}
