import Dispatch
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
/// `Nats-Msg-Id` is `<position>-<level>`, so JetStream drops a repeat, and its header
/// `Yidang-Position` is the change position.
///
/// In order, at least once: after a restart the publisher reads the position of the
/// stream's last message and publishes that change again and everything after it (the
/// repeats are dropped by their ids within the stream's duplicate window).
public actor JetStreamChangeFeed {
    public static let streamName = "YIDANG_CHANGES"
    public static let subjects = ["yidang.changes.>", "yidang.corrections.>"]
    static let levels: [Sensitivity] = [.L1, .L2, .L3, .L4]

    let connection: NATSConnection
    let reader: StoreReader
    let view: ChangeView
    let signal: ChangeFeedSignal
    let logger: Logger
    /// nats.c blocks on every acknowledgement: its calls run here, not on the cooperative pool.
    let queue = DispatchQueue(label: "yidang.jetstream")
    public private(set) var published: UInt64 = 0

    /// Connects and creates (or updates) the stream.
    /// - Throws: ``NATSError`` when NATS cannot be reached or refuses the stream.
    public init(servers: [String], replicas: Int = 1, reader: StoreReader, signal: ChangeFeedSignal,
                logger: Logger = Logger(label: "yidang.jetstream")) throws {
        connection = try NATSConnection(servers: servers, name: "yidang-changes")
        var settings = NATSConnection.StreamSettings(name: Self.streamName, subjects: Self.subjects)
        settings.replicas = replicas
        try connection.ensureStream(settings)
        self.reader = reader
        self.view = ChangeView(configuration: reader.configuration)
        self.signal = signal
        self.logger = logger
    }

    /// The change position of the stream's last message (0 when empty).
    func lastPublishedPosition() async throws -> UInt64 {
        let connection = self.connection
        return try await blocking {
            let last = try connection.lastSequence(stream: Self.streamName)
            guard last > 0 else { return 0 }
            let m = try connection.message(stream: Self.streamName, sequence: last, headers: ["Yidang-Position"])
            return m.headers["Yidang-Position"].flatMap(UInt64.init) ?? 0
        }
    }

    /// Publishes every change after the stream's last one, then each new change as it
    /// commits, until the signal closes or the task is cancelled. A failed publish is
    /// logged and retried (never skipped).
    public func run() async {
        var after: UInt64
        while true {
            do { after = try await lastPublishedPosition(); break } catch {
                logger.error("cannot read the change stream's last position; retrying: \(error)")
                if signal.isClosed || Task.isCancelled { return }
                try? await Task.sleep(for: .seconds(1))   // cancelled: the loop ends below
            }
        }
        // The last position may have been published for some levels only: all of it again
        // (JetStream drops the repeats by their ids).
        after = after > 0 ? after - 1 : 0
        published = after
        while !Task.isCancelled && !signal.isClosed {
            do {
                let batch = try reader.changes(after: after, limit: 1_000)
                if batch.isEmpty {
                    _ = await signal.wait(after: after, timeout: .seconds(5))
                    continue
                }
                for change in batch {
                    try await publish(change)
                    after = change.position
                    published = after
                }
            } catch {
                logger.error("publishing change \(after + 1) to JetStream failed; retrying: \(error)")
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
            for level in Self.levels {
                var s = Subscription(id: "jetstream-\(level.rawValue)", name: "jetstream", owner: "yidang")
                s.clearance = level
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

    func publish(_ change: ChangeRecord) async throws {
        let connection = self.connection
        let messages = self.messages(change)
        let position = String(change.position)
        try await blocking {
            for m in messages {
                _ = try connection.publish(subject: m.subject, data: m.body, messageId: m.id, headers: ["Yidang-Position": position])
            }
        }
    }

    func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try body() }) }
        }
    }

    /// Closes the connection.
    public func close() { connection.close() }
}
