import Synchronization
import YidangModel

/// Where the hub's writes are put in their one order before the single writer applies
/// them: the writer itself on one node (``EventStore``); the replicated log in a cluster,
/// which answers once this node's replica applied the write (docs/ARCHITECTURE.md,
/// "Cluster").
///
/// Guarantees of every sequencer: writes are applied in the order it gives them; a write
/// is answered only once it is durable on this node; an answer is the same on every node
/// that applies the same order.
public protocol EventSequencer: Sendable {
    /// Queues `events` behind those already submitted; await the ticket for their fate.
    /// - Parameter isolated: built alone, once every earlier write is durable (an unmerge).
    func submit(_ events: [Event], isolated: Bool) -> CommitTicket

    /// Adds rejections (department → reason → number) to the departments' counts.
    /// - Throws: when the counts cannot be written.
    func recordRejections(_ counts: [String: [String: UInt64]]) async throws
}

extension EventSequencer {
    /// Submits and waits: each event's fate once durable.
    /// - Throws: what the commit threw (then nothing of the write was stored).
    public func append(_ events: [Event], isolated: Bool = false) async throws -> [AppendResult] {
        try await submit(events, isolated: isolated).results
    }

    /// Queues `events`, not isolated.
    public func submit(_ events: [Event]) -> CommitTicket { submit(events, isolated: false) }
}

extension EventStore: EventSequencer {
    public nonisolated func submit(_ events: [Event], isolated: Bool) -> CommitTicket {
        submit(events, isolated: isolated, stamp: nil)
    }
}

/// Where a replica's write came from: the replicated log's sequence, and the time the
/// node that published it stamped on it (every replica folds with that time, so every
/// replica decides the same).
public struct ReplicaStamp: Sendable, Hashable {
    public var sequence: UInt64
    public var time: Int64
    public init(sequence: UInt64, time: Int64) { self.sequence = sequence; self.time = time }
}

/// Writes to the operational key space a replicated entry makes, computed when its group
/// is built (from the store as the writes before it left it) and written in that group's
/// batch: nil values delete.
public typealias StoreEffect = @Sendable (_ read: ([UInt8]) throws -> [UInt8]?) throws -> [(key: [UInt8], value: [UInt8]?)]

extension Hub {
    /// The sequencer writes go through: the replicated log once one is installed, else the
    /// writer.
    public var sequencer: any EventSequencer { sequencerCell.withLock { $0 } ?? store }

    /// Routes every later write through `sequencer` (a cluster node's replicated log).
    public func useSequencer(_ sequencer: any EventSequencer) { sequencerCell.withLock { $0 = sequencer } }
}

/// Rejection counts as a replicated entry's effect: read, added to, written.
public enum RejectionEffect {
    public static func adding(_ counts: [String: [String: UInt64]]) -> StoreEffect {
        { read in
            var out: [(key: [UInt8], value: [UInt8]?)] = []
            for (dept, reasons) in counts {
                for (reason, n) in reasons {
                    let key = Keys.rejectionKey(dept, reason)
                    let current = try read(key).map { Keys.readBE($0) } ?? 0
                    out.append((key, Keys.be(current + n)))
                }
            }
            return out
        }
    }
}

extension CommitTicket {
    /// A ticket for work done elsewhere (a replicated log's publish and its apply), started
    /// at once.
    public init(_ work: @escaping @Sendable () async throws -> [AppendResult]) {
        let promise = Promise<[AppendResult]>()
        Task {
            do { promise.complete(.success(try await work())) } catch { promise.complete(.failure(error)) }
        }
        self.init(promise: promise)
    }
}
