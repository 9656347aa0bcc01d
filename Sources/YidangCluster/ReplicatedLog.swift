import Foundation
import Logging
import NATS
import Synchronization
import YidangModel
import YidangStore

/// The hub's log as a replicated JetStream stream, and this node's replica of it
/// (docs/ARCHITECTURE.md, "Cluster").
///
/// Publishing: a write (validated events, a steward's decision, rejection counts, a token)
/// becomes an entry of the stream; JetStream orders it and stores it on a majority of its
/// servers before it acknowledges. The caller is answered once this node's own replica has
/// applied that entry: the answer is what the fold decided, which every replica decides
/// the same.
///
/// Applying: every node reads the stream in order from the entry after the last one its
/// store holds (recorded in the same batch as what the entry wrote) and hands each to its
/// single writer with the entry's sequence and time. A restarted node goes on where it
/// stopped; a new node builds itself from the first entry.
///
/// Guarantees: an acknowledged write is in the stream (on a majority of servers) and
/// applied on this node; a repeat of a write (same `Nats-Msg-Id` within the duplicate
/// window, or the same event later) is answered as a duplicate with the original
/// position; no entry is applied twice or skipped.
public final class ReplicatedLog: Sendable {
    public let settings: ClusterSettings
    let connection: NATSConnection
    let hub: Hub
    let tokens: TokenStore
    let subscriptions: any SubscriptionApplier
    let logger: Logger
    private let answers: Mutex<Answers>

    struct Answers: ~Copyable {
        /// The last entry this node applied.
        var applied: UInt64 = 0
        /// Callers waiting for an entry to be applied.
        var waiters: [UInt64: [CheckedContinuation<[AppendResult]?, Never>]] = [:]
        /// What the latest `answersKept` entries decided.
        var recent: [UInt64: [AppendResult]] = [:]
    }

    /// Connects, and creates the stream (or brings it to `settings`).
    /// - Throws: ``NATSError`` when no server answers or JetStream refuses the stream (e.g.
    ///   more replicas than servers).
    public init(hub: Hub, tokens: TokenStore, subscriptions: any SubscriptionApplier, settings: ClusterSettings,
                logger: Logger = Logger(label: "yidang.cluster")) throws {
        self.settings = settings
        self.hub = hub
        self.tokens = tokens
        self.subscriptions = subscriptions
        self.logger = logger
        connection = try Self.connect(settings)
        answers = Mutex(Answers(applied: try hub.store.appliedSequence()))
    }

    /// A connection with the stream ensured.
    static func connect(_ settings: ClusterSettings) throws -> NATSConnection {
        let connection = try NATSConnection(servers: settings.servers, name: "yidang-\(settings.node)")
        var stream = NATSConnection.StreamSettings(name: settings.stream, subjects: [settings.subject])
        stream.replicas = settings.replicas
        stream.duplicateWindowSeconds = settings.duplicateWindowSeconds
        stream.memoryStorage = settings.memoryStorage
        try connection.ensureStream(stream)
        return connection
    }

    /// How far behind the stream a node may be and still call itself ready.
    public static let readyLag: UInt64 = 10_000

    /// The last entry this node applied.
    public var appliedSequence: UInt64 { answers.withLock { $0.applied } }

    /// Waits until this node has applied every entry the stream held when called, or
    /// `patience` has passed, or JetStream does not answer: before a node that may be behind
    /// calls something unknown (a token issued through another node), it looks again.
    public func catchUp(patience: Duration) async {
        guard let head = try? await streamHead() else { return }
        let deadline = ContinuousClock.now + patience
        while appliedSequence < head && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
    }

    /// The stream's last entry (what this node has to apply to be current).
    /// - Throws: ``NATSError`` when JetStream does not answer.
    public func streamHead() async throws -> UInt64 {
        let connection = self.connection
        let stream = settings.stream
        return try await connection.offloadedConcurrently { try connection.lastSequence(stream: stream) }
    }

    public func close() { connection.close() }

    /// A lease on a task one node does at a time, on this node's connection.
    /// - Throws: ``NATSError`` when its stream cannot be made.
    public func lease(named name: String) throws -> ClusterLease {
        try ClusterLease(connection: connection, name: name, node: settings.node, replicas: settings.replicas, logger: logger)
    }

    // MARK: Publishing

    /// Puts `entry` into the stream and returns its sequence and whether JetStream dropped
    /// it as a repeat (then the sequence is the original's).
    /// - Throws: ``NATSError`` when no acknowledgement came (the entry may or may not be in
    ///   the stream: a retry is answered as a duplicate if it is).
    /// - Parameter body: the entry's bytes when the caller has them already.
    func publish(_ entry: LogEntry, body: [UInt8]? = nil) async throws -> NATSConnection.PublishAck {
        let body = body ?? entry.body()
        let ack = try await Self.publish(entry, body: body, on: connection, settings: settings)
        guard ack.duplicate && ack.sequence == 0 else { return ack }
        // A leader that lost its leadership with the original still unproposed keeps its id
        // as "seen" with no sequence (nats-server before 2.11): every retry would be called
        // a repeat of nothing for the whole duplicate window. The entry goes in under an id
        // of its own; if the original lands after all, the fold answers the second copy as
        // the repeat it is.
        logger.warning("JetStream called entry \(entry.messageId ?? "") a repeat of an entry it has not stored; publishing it again")
        return try await Self.publish(entry, body: body, on: connection, settings: settings, messageId: "r:" + UUID().uuidString)
    }

    static func publish(_ entry: LogEntry, body: [UInt8]? = nil, on connection: NATSConnection,
                        settings: ClusterSettings, messageId: String? = nil) async throws -> NATSConnection.PublishAck {
        let headers = [LogEntry.kindHeader: entry.kind, LogEntry.timeHeader: String(Timestamp.now()), LogEntry.nodeHeader: settings.node]
        let body = body ?? entry.body()
        let id = messageId ?? entry.messageId ?? "u:" + UUID().uuidString
        return try await connection.offloadedConcurrently {
            try connection.publish(subject: settings.subject, data: body, messageId: id, headers: headers)
        }
    }

    /// Publishes `entry` and waits until this node applied it: what the entry decided, or
    /// nil when it was applied so long ago that its answer is no longer kept.
    func commit(_ entry: LogEntry, body: [UInt8]? = nil) async throws -> (answer: [AppendResult]?, duplicate: Bool, sequence: UInt64) {
        let ack = try await publish(entry, body: body)
        return (await applied(ack.sequence), ack.duplicate, ack.sequence)
    }

    /// Waits until entry `sequence` is applied here; its answer if still kept.
    func applied(_ sequence: UInt64) async -> [AppendResult]? {
        await withCheckedContinuation { (c: CheckedContinuation<[AppendResult]?, Never>) in
            let ready: [AppendResult]?? = answers.withLock { a in
                if a.applied >= sequence { return .some(a.recent[sequence]) }
                a.waiters[sequence, default: []].append(c)
                return .none
            }
            if let ready { c.resume(returning: ready) }
        }
    }

    /// Records that entry `sequence` is applied, with what it decided, and wakes its waiters.
    func finish(_ sequence: UInt64, _ results: [AppendResult]) {
        let woken = answers.withLock { a in
            a.applied = sequence
            a.recent[sequence] = results
            // Entries are finished one after another: the one that falls out is known.
            if sequence > UInt64(settings.answersKept) { a.recent[sequence - UInt64(settings.answersKept)] = nil }
            return a.waiters.removeValue(forKey: sequence) ?? []
        }
        for w in woken { w.resume(returning: results) }
    }

    /// Entries of at most `maxEntryBytes` each, in order, with their bodies (each event
    /// encoded once: its size decides where an entry ends).
    func entries(_ events: [Event]) -> [(events: [Event], body: [UInt8])] {
        var out: [(events: [Event], body: [UInt8])] = []
        var current: [Event] = []
        var body: [UInt8] = []
        for e in events {
            let bytes = e.encoded()
            if !current.isEmpty && body.count + bytes.count + 4 > settings.maxEntryBytes {
                out.append((current, body))
                current = []
                body = []
            }
            current.append(e)
            LogEntry.append(encoded: bytes, to: &body)
        }
        if !current.isEmpty { out.append((current, body)) }
        return out
    }

    /// The answer for events JetStream dropped as a repeat of entry `sequence`: each stored
    /// event a duplicate at its position if it is the same (else `id-reused`); one not stored
    /// was refused then, for the reason kept in `original` when it still is.
    func repeatAnswer(for events: [Event], original: [AppendResult]?, sequence: UInt64) throws -> [AppendResult] {
        try events.enumerated().map { i, e in
            if let answer = try hub.reader.repeatAnswer(for: e) { return answer }
            if let original, original.count == events.count, case .rejected = original[i] { return original[i] }
            return .rejected(EventRejection("id", .idReused, "the event was refused when it was first published (replicated log entry \(sequence)); publish it with a new id"))
        }
    }
}

extension ReplicatedLog: EventSequencer {
    public func submit(_ events: [Event], isolated: Bool) -> CommitTicket {
        CommitTicket { [self] in
            var results: [AppendResult] = []
            results.reserveCapacity(events.count)
            for (part, body) in entries(events) {
                let (answer, duplicate, sequence) = try await commit(.events(part, isolated: isolated), body: body)
                if let answer, answer.count == part.count, !duplicate {
                    results += answer
                } else {
                    // JetStream dropped it as a repeat (or its answer is no longer kept):
                    // answered as the writer answers a repeat, from what the store holds.
                    results += try repeatAnswer(for: part, original: answer, sequence: sequence)
                }
            }
            return results
        }
    }

    public func recordRejections(_ counts: [String: [String: UInt64]]) async throws {
        _ = try await commit(.rejections(counts))
    }
}

extension ReplicatedLog: TokenLedger {
    public func issueToken(_ request: TokenRequest) async throws -> IssuedToken {
        let issued = TokenStore.mint(role: request.role, source: request.source, name: request.name, clearance: request.clearance,
                                     attributes: request.attributes, expires: request.expires)
        _ = try await commit(.token(id: issued.info.id, key: issued.key, record: issued.record))
        return issued
    }

    public func revokeToken(id: String) async throws -> TokenInfo? {
        guard let info = try tokens.info(id: id) else { return nil }
        _ = try await commit(.revocation(id: id))
        return info
    }

    /// Puts a new token into the stream with no hub running (`yidang tokens create --nats`):
    /// every node stores it when it applies the entry.
    /// - Throws: ``NATSError`` when JetStream cannot be reached or does not acknowledge.
    public static func issue(_ issued: IssuedToken, settings: ClusterSettings) async throws {
        let connection = try connect(settings)
        defer { connection.close() }
        _ = try await publish(.token(id: issued.info.id, key: issued.key, record: issued.record), on: connection, settings: settings)
    }
}

extension ReplicatedLog: SubscriptionLedger {
    public func writeSubscription(_ write: SubscriptionWrite) async throws {
        _ = try await commit(.subscription(write))
    }
}
