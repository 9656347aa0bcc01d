import Foundation
import Logging
import NATS
import Synchronization

/// A lease on a task that one node of the cluster should do at a time (publishing the
/// change feed): held by the node whose claim is the last message on the lease's subject
/// of the stream `YIDANG_LEASES`, for `term` seconds after the stream stored it.
///
/// Claims and renewals are compare-and-set publishes (`Nats-Expected-Last-Subject-Sequence`
/// = the claim the node read), so two nodes do not both win the same term, with one
/// exception: JetStream 2.9 checks that header before it replicates a publish to a clustered
/// stream, so two claims racing on the same read can both be stored (nats-io/nats-server#4320;
/// seen when two nodes took over a killed holder's lease in the same second). The next round
/// settles it: each node reads the last claim, and the one whose claim it is not stops.
/// A holder renews every third of a term; when it dies, another node claims once the term
/// has run out.
/// A paused holder may act for a moment after losing its lease: the tasks under a lease are
/// safe to do twice (the change feed's messages are deduplicated), the lease only keeps
/// the cluster from doing them three times over.
public final class ClusterLease: Sendable {
    public static let streamName = "YIDANG_LEASES"
    let connection: NATSConnection
    let name: String
    let node: String
    let term: Double
    let logger: Logger
    private let held = Atomic<Bool>(false)

    /// - Throws: ``NATSError`` when the lease stream cannot be made.
    public init(connection: NATSConnection, name: String, node: String, replicas: Int, term: Double = 6,
                logger: Logger = Logger(label: "yidang.lease")) throws {
        self.connection = connection
        self.name = name
        self.node = node
        self.term = term
        self.logger = logger
        var settings = NATSConnection.StreamSettings(name: Self.streamName, subjects: ["yidang.lease.>"])
        settings.replicas = replicas
        settings.maxMessagesPerSubject = 1
        settings.duplicateWindowSeconds = 1
        try connection.ensureStream(settings)
    }

    /// Whether this node holds the lease now.
    public var isHeld: Bool { held.load(ordering: .acquiring) }

    var subject: String { "yidang.lease.\(name)" }

    /// Claims and renews the lease until cancelled.
    public func run() async {
        while !Task.isCancelled {
            let holds = (try? await connection.offloadedConcurrently { [self] in try attempt() }) ?? false
            if holds != isHeld { logger.info("node \(node) \(holds ? "holds" : "no longer holds") the \(name) lease") }
            held.store(holds, ordering: .releasing)
            try? await Task.sleep(for: .seconds(term / 3))
        }
        held.store(false, ordering: .releasing)
    }

    /// One round: renews the lease if this node holds it, claims it if its term ran out;
    /// whether this node holds it afterwards.
    private func attempt() throws -> Bool {
        let last = try connection.lastMessage(stream: Self.streamName, subject: subject, headers: ["Yidang-Node"])
        let now = Int64(Date().timeIntervalSince1970 * 1e9)
        if let last, last.message.headers["Yidang-Node"] != node, Double(now - last.time) / 1e9 < term { return false }
        // Ours to renew, or free: compare-and-set on the claim read.
        do {
            _ = try connection.publish(subject: subject, data: [], messageId: "\(node)-\(now)",
                                       headers: ["Yidang-Node": node, "Nats-Expected-Last-Subject-Sequence": String(last?.sequence ?? 0)],
                                       timeoutMilliseconds: 2_000)
            return true
        } catch {
            return false   // another node claimed first, or JetStream did not answer: not held
        }
    }
}
