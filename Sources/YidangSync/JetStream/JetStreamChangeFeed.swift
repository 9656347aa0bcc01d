import Foundation
import JSON
import Logging
import NATS
import YidangModel
import YidangProjection
import YidangStore

/// The change feed on NATS JetStream (一处变更、全网同步 beyond one HTTP endpoint).
///
/// Every change record is published once per clearance level that sees something of it,
/// masked for that level as for a subscription of that clearance, on
/// `yidang.changes.<clearance>.<kind>.<province>.<city>.<county>` (from the golden region
/// code; `none` when it has none), so that NATS account permissions decide who reads which
/// clearance and region. Correction notices go to `yidang.corrections.<department>`, as the
/// department's own subscription would see them. Each message is the change CloudEvent; its
/// `Nats-Msg-Id` is `<position>-<level>` and its header `Yidang-Position` the change position.
///
/// In order, each message once: every message expects its predecessor as the stream's last
/// (the first of a batch the stream's last sequence, `Nats-Expected-Last-Sequence`; the
/// others their predecessor's id, `Nats-Expected-Last-Msg-Id`), and after a failure or a
/// restart publishing goes on after the stream's last message.
public actor JetStreamChangeFeed {
    public static let streamName = "YIDANG_CHANGES"
    public static let subjects = ["yidang.changes.>", "yidang.corrections.>"]
    /// A subscription of each clearance level, with no filter: what that level may see.
    static let levelViews: [(Sensitivity, Subscription)] = [Sensitivity.L1, .L2, .L3, .L4].map { level in
        var s = Subscription(id: "jetstream-\(level.rawValue)", name: "jetstream", owner: "yidang")
        s.clearance = level
        return (level, s)
    }

    let connection: NATSConnection
    let reader: StoreReader
    let view: ChangeView
    let signal: ChangeFeedSignal
    let logger: Logger
    public private(set) var published: UInt64 = 0

    /// Connects and creates (or updates) the stream.
    /// - Throws: ``NATSError`` when NATS cannot be reached or refuses the stream.
    public init(servers: [String], replicas: Int = 1, reader: StoreReader, signal: ChangeFeedSignal,
                logger: Logger = Logger(label: "yidang.jetstream")) throws {
        connection = try NATSConnection(servers: servers, name: "yidang-changes")
        var settings = NATSConnection.StreamSettings(name: Self.streamName, subjects: Self.subjects)
        settings.replicas = replicas
        // The expected-last-id chain already keeps repeats out; a short window only bounds
        // how long an id a stream leader held but never stored (a leader change with the
        // message unproposed, nats-server before 2.11) blocks the chain's retry.
        settings.duplicateWindowSeconds = 5
        try connection.ensureStream(settings)
        self.reader = reader
        self.view = ChangeView(configuration: reader.configuration)
        self.signal = signal
        self.logger = logger
    }

    /// The stream's last sequence and message id (0 and nil when empty).
    func storedLast() async throws -> (sequence: UInt64, id: String?) {
        let connection = self.connection
        return try await connection.offloaded { try connection.lastSequenceAndId(stream: Self.streamName) }
    }

    /// The change position a message id names (`<position>-<level>`).
    static func position(of id: String?) -> UInt64 {
        id.flatMap { $0.split(separator: "-").first.flatMap { UInt64($0) } } ?? 0
    }

    /// The last change wholly in the stream when its last message is `id`: the one before
    /// the change that message belongs to (whose other levels may still be missing).
    static func cursor(before id: String?) -> UInt64 {
        let held = position(of: id)
        return held > 0 ? held - 1 : 0
    }

    /// Publishes every change the stream does not hold yet, then each new change as it
    /// commits, until the signal closes or the task is cancelled.
    ///
    /// Up to a thousand changes go out at a time without waiting for each acknowledgement;
    /// every message expects its predecessor's id as the stream's last, so JetStream stores
    /// them in order or, from the first that fails, none. The stream's last id afterwards
    /// says how far it got, and publishing goes on from there: nothing is skipped, nothing
    /// stored twice. A failure is logged and retried.
    public func run() async {
        while !Task.isCancelled && !signal.isClosed {
            guard mayPublish() else {
                try? await Task.sleep(for: .milliseconds(250))   // cancelled: the loop ends
                continue
            }
            await publishWhileAllowed()
        }
    }

    /// Whether this node is to publish now (on a cluster node: while it holds the lease).
    private var gate: (@Sendable () -> Bool)?
    private func mayPublish() -> Bool { gate?() ?? true }

    /// Publishes only while `gate` says so: on a cluster, one node publishes at a time and
    /// another takes over, from the stream's last message, when it stops.
    public func setGate(_ gate: @escaping @Sendable () -> Bool) { self.gate = gate }

    private func publishWhileAllowed() async {
        var last: (sequence: UInt64, id: String?)
        while true {
            do { last = try await storedLast(); break } catch {
                logger.error("cannot read the change stream's last message; retrying: \(error)")
                if signal.isClosed || Task.isCancelled { return }
                try? await Task.sleep(for: .seconds(1))   // cancelled: the loop ends below
            }
        }
        // Changes up to `cursor` are in the stream; of the next, the messages up to `last`.
        var cursor = Self.cursor(before: last.id)
        var skipThrough = last.id
        published = cursor
        while !Task.isCancelled && !signal.isClosed && mayPublish() {
            do {
                let batch = try reader.changes(after: cursor, limit: 1_000)
                if batch.isEmpty {
                    _ = await signal.wait(after: cursor, timeout: .seconds(5))
                    continue
                }
                var outgoing = batch.flatMap { change in messages(change).map { (change.position, $0) } }
                if let skip = skipThrough {
                    let held = Self.position(of: skip)
                    if let i = outgoing.firstIndex(where: { $0.1.id == skip }) { outgoing.removeFirst(i + 1) } else {
                        outgoing.removeAll { $0.0 <= held }
                    }
                    skipThrough = nil
                }
                if let final = outgoing.last?.1.id {
                    let connection = self.connection
                    let chain = outgoing.map { (position: String($0.0), message: $0.1) }
                    let anchor = last.sequence
                    let stored = try await connection.offloaded { () throws -> (sequence: UInt64, id: String?) in
                        // The first message expects the stream's last sequence, the others
                        // their predecessor's id (still in flight when they are sent).
                        var previous = NATSConnection.PublishExpectation.lastSequence(anchor)
                        for m in chain {
                            try connection.publishAsync(subject: m.message.subject, data: m.message.body, messageId: m.message.id,
                                                        expecting: previous, headers: ["Yidang-Position": m.position])
                            previous = .lastMessageId(m.message.id)
                        }
                        // A timeout here is judged by what the stream holds, below.
                        try? connection.waitForAsyncPublishes(timeoutMilliseconds: 10_000)
                        return try connection.lastSequenceAndId(stream: Self.streamName)
                    }
                    guard stored.id == final else {
                        logger.error("JetStream stored the change feed up to \(stored.id ?? "nothing") of \(final); publishing again from there")
                        last = stored
                        cursor = Self.cursor(before: stored.id)
                        skipThrough = stored.id
                        try? await Task.sleep(for: .milliseconds(200))   // cancelled: the loop ends
                        continue
                    }
                    last = stored
                }
                cursor = batch.last!.position
                published = cursor
            } catch {
                logger.error("publishing the change feed after change \(cursor) to JetStream failed; retrying: \(error)")
                try? await Task.sleep(for: .milliseconds(500))   // cancelled: the loop ends
            }
        }
    }

    /// The messages of one change: subject, message id and body.
    func messages(_ change: ChangeRecord) -> [(subject: String, id: String, body: [UInt8])] {
        var out: [(String, String, [UInt8])] = []
        switch change.kind {
        case .correction:
            guard let department = change.department else { return [] }
            var s = Subscription(id: "jetstream-\(department)", name: "jetstream", owner: "yidang")
            s.ownerDepartment = department
            s.clearance = .L3
            if let event = view.render(change, for: s, viewTag: "corr") {
                out.append(("yidang.corrections.\(department)", "\(change.position)-corrections", JSONWriter.bytes(event)))
            }
        default:
            let region = Self.regionTokens(change.regionCode)
            for (level, s) in Self.levelViews {
                guard let event = view.render(change, for: s, viewTag: level.rawValue) else { continue }
                out.append(("yidang.changes.\(level.rawValue).\(change.subject.kind.rawValue).\(region)", "\(change.position)-\(level.rawValue)",
                            JSONWriter.bytes(event)))
            }
        }
        return out
    }

    /// `<province>.<city>.<county>` of a six-digit region code.
    static func regionTokens(_ code: String?) -> String {
        guard let code, code.utf8.count == 6, code.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return "none.none.none" }
        return "\(code.prefix(2)).\(code.prefix(4)).\(code)"
    }


    /// Closes the connection.
    public func close() { connection.close() }
}
