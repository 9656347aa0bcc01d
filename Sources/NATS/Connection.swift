import CNats
import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// A connection to NATS with its JetStream context (nats.c). The one Swift layer that
/// touches nats.c pointers: every C object is created and destroyed here, and C strings
/// live only for the call they are passed to.
///
/// Thread-safe as nats.c's connection is; calls block (a JetStream publish waits for the
/// stream's acknowledgement), so callers keep them off cooperative threads.
public final class NATSConnection: @unchecked Sendable {
    private let lock = Mutex(())
    private let queue = DispatchQueue(label: "yidang.nats")
    private var connection: OpaquePointer?
    private var jetStream: OpaquePointer?

    /// Connects to any of `servers` (`nats://host:port`), reconnecting forever on loss.
    /// - Throws: ``NATSError`` when no server answers.
    public init(servers: [String], name: String = "yidang") throws {
        var options: OpaquePointer?
        try Self.check("options", natsOptions_Create(&options))
        defer { natsOptions_Destroy(options) }
        try Self.withCStrings(servers) { list in
            try Self.check("servers", natsOptions_SetServers(options, list, Int32(servers.count)))
        }
        try Self.check("name", natsOptions_SetName(options, name))
        try Self.check("reconnect", natsOptions_SetMaxReconnect(options, -1))
        try Self.check("reconnect wait", natsOptions_SetReconnectWait(options, 250))
        try Self.check("timeout", natsOptions_SetTimeout(options, 2_000))
        try Self.check("connect to \(servers.joined(separator: ","))", natsConnection_Connect(&connection, options))
        var js: OpaquePointer?
        var jsOptions = jsOptions()
        do {
            try Self.check("jetstream options", jsOptions_Init(&jsOptions))
            // Asynchronous publishes: a window of messages in flight, a publisher that
            // fills it waits (up to 5 s) rather than failing.
            jsOptions.PublishAsync.MaxPending = 4_096
            jsOptions.PublishAsync.StallWait = 5_000
            try Self.check("jetstream", natsConnection_JetStream(&js, connection, &jsOptions))
        } catch {
            natsConnection_Destroy(connection)
            throw error
        }
        jetStream = js
    }

    deinit { close() }

    /// Closes the connection. Idempotent.
    public func close() {
        lock.withLock { _ in
            if let js = jetStream { jsCtx_Destroy(js) }
            if let nc = connection { natsConnection_Destroy(nc) }
            jetStream = nil
            connection = nil
        }
    }

    /// The stream's settings the hub asks for.
    public struct StreamSettings: Sendable {
        public var name: String
        public var subjects: [String]
        public var replicas: Int = 1
        public var memoryStorage = false
        /// How long JetStream remembers a `Nats-Msg-Id` to drop a repeat.
        public var duplicateWindowSeconds: Int = 600
        /// Messages kept per subject (0: no limit); 1 makes each subject a register.
        public var maxMessagesPerSubject: Int = 0
        public init(name: String, subjects: [String]) { self.name = name; self.subjects = subjects }
    }

    /// Creates the stream, or brings an existing one to `settings`, trying again for up to
    /// `patience` seconds while JetStream cannot answer (a cluster electing its leaders after
    /// a server restarted refuses for a few seconds).
    /// - Throws: ``NATSError`` when JetStream still refuses (e.g. more replicas than servers).
    public func ensureStream(_ settings: StreamSettings, patience: Double = 30) throws {
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(patience * 1e9)
        while true {
            do { return try ensureStreamOnce(settings) } catch {
                if DispatchTime.now().uptimeNanoseconds >= deadline { throw error }
                usleep(500_000)
            }
        }
    }

    private func ensureStreamOnce(_ settings: StreamSettings) throws {
        try withJetStream { js in
            var config = jsStreamConfig()
            try Self.check("stream config", jsStreamConfig_Init(&config))
            try settings.name.withCString { name in
                try Self.withCStrings(settings.subjects) { subjects in
                    config.Name = name
                    config.Subjects = subjects
                    config.SubjectsLen = Int32(settings.subjects.count)
                    config.Storage = settings.memoryStorage ? js_MemoryStorage : js_FileStorage
                    config.Replicas = Int64(settings.replicas)
                    config.Duplicates = Int64(settings.duplicateWindowSeconds) * 1_000_000_000
                    if settings.maxMessagesPerSubject > 0 { config.MaxMsgsPerSubject = Int64(settings.maxMessagesPerSubject) }
                    var info: UnsafeMutablePointer<jsStreamInfo>?
                    var code = jsErrCode(0)
                    var status = js_AddStream(&info, js, &config, nil, &code)
                    if status != NATS_OK && code.rawValue == 10058 {   // exists with other settings
                        code = jsErrCode(0)
                        status = js_UpdateStream(&info, js, &config, nil, &code)
                    }
                    if let info { jsStreamInfo_Destroy(info) }
                    try Self.check("add stream \(settings.name)", status, code)
                }
            }
        }
    }

    /// The sequence of the stream's last message (0 when empty).
    public func lastSequence(stream: String) throws -> UInt64 {
        try withJetStream { js in
            var info: UnsafeMutablePointer<jsStreamInfo>?
            var code = jsErrCode(0)
            try Self.check("stream info \(stream)", js_GetStreamInfo(&info, js, stream, nil, &code), code)
            defer { jsStreamInfo_Destroy(info) }
            return info?.pointee.State.LastSeq ?? 0
        }
    }

    /// A stored message: its subject, headers asked for, and body.
    public struct StoredMessage: Sendable {
        public var subject: String
        public var headers: [String: String]
        public var data: [UInt8]
    }

    /// The message at `sequence` of `stream`, with the headers named in `headers`.
    public func message(stream: String, sequence: UInt64, headers: [String] = []) throws -> StoredMessage {
        try withJetStream { js in
            var msg: OpaquePointer?
            var code = jsErrCode(0)
            try Self.check("get message \(sequence) of \(stream)", js_GetMsg(&msg, js, stream, sequence, nil, &code), code)
            defer { natsMsg_Destroy(msg) }
            return StoredMessage(subject: String(cString: natsMsg_GetSubject(msg)), headers: Self.headers(headers, of: msg), data: Self.body(of: msg))
        }
    }

    /// The last message on `subject` in `stream`: its stream sequence, the time the stream
    /// stored it (nanoseconds since the epoch), and the headers named; nil when there is none.
    public func lastMessage(stream: String, subject: String, headers: [String] = []) throws -> (sequence: UInt64, time: Int64, message: StoredMessage)? {
        try withJetStream { js in
            var msg: OpaquePointer?
            var code = jsErrCode(0)
            let status = js_GetLastMsg(&msg, js, stream, subject, nil, &code)
            if status == NATS_NOT_FOUND || code.rawValue == 10037 { return nil }
            try Self.check("last message on \(subject) of \(stream)", status, code)
            defer { natsMsg_Destroy(msg) }
            return (natsMsg_GetSequence(msg), natsMsg_GetTime(msg),
                    StoredMessage(subject: subject, headers: Self.headers(headers, of: msg), data: Self.body(of: msg)))
        }
    }

    /// The outcome of a publish: the stream's sequence, and whether JetStream dropped it as
    /// a repeat of a `Nats-Msg-Id` it remembers.
    public struct PublishAck: Sendable {
        public var sequence: UInt64
        public var duplicate: Bool
    }

    /// Publishes `data` to `subject` with `messageId` as `Nats-Msg-Id` and `headers`, and
    /// waits for the stream's acknowledgement (the message is then stored by the stream's
    /// replicas).
    /// - Throws: ``NATSError`` when no stream acknowledges within the timeout.
    public func publish(subject: String, data: [UInt8], messageId: String, headers: [String: String] = [:],
                        timeoutMilliseconds: Int64 = 5_000) throws -> PublishAck {
        try withJetStream { js in
            let msg = try Self.message(subject: subject, data: data, headers: headers)
            defer { natsMsg_Destroy(msg) }
            var options = jsPubOptions()
            try Self.check("publish options", jsPubOptions_Init(&options))
            options.MaxWait = timeoutMilliseconds
            var ack: UnsafeMutablePointer<jsPubAck>?
            var code = jsErrCode(0)
            let published = messageId.withCString { id in
                options.MsgId = id
                return js_PublishMsg(&ack, js, msg, &options, &code)
            }
            try Self.check("publish to \(subject)", published, code)
            defer { jsPubAck_Destroy(ack) }
            return PublishAck(sequence: ack?.pointee.Sequence ?? 0, duplicate: ack?.pointee.Duplicate ?? false)
        }
    }

    /// What a message expects of the stream before it: JetStream stores it only then.
    public enum PublishExpectation: Sendable {
        /// The last message has this `Nats-Msg-Id` (for a message whose predecessor may
        /// still be in flight).
        case lastMessageId(String)
        /// The stream's last sequence is this (0: none expected). Unlike the last id, which
        /// a restarted server remembers only within the duplicate window, it always holds.
        case lastSequence(UInt64)
    }

    /// Sends a message without waiting for its acknowledgement, with `Nats-Msg-Id` and what
    /// it expects of the stream before it: a chain of messages each expecting its
    /// predecessor is stored in order or, from the first that fails, not at all. ``waitForAsyncPublishes(timeoutMilliseconds:)``
    /// waits for the acknowledgements; the stream's last message id tells how far it got.
    public func publishAsync(subject: String, data: [UInt8], messageId: String, expecting previous: PublishExpectation? = nil,
                             headers: [String: String] = [:], timeoutMilliseconds: Int64 = 5_000) throws {
        try withJetStream { js in
            var all = headers
            all["Nats-Msg-Id"] = messageId
            switch previous {
            case .lastMessageId(let id): all["Nats-Expected-Last-Msg-Id"] = id
            case .lastSequence(let sequence): all["Nats-Expected-Last-Sequence"] = String(sequence)
            case nil: break
            }
            var msg: OpaquePointer? = try Self.message(subject: subject, data: data, headers: all)
            do {
                // Unanswered (a server lost with it), a message leaves the pending list after
                // this long instead of holding up every later wait.
                var options = jsPubOptions()
                try Self.check("publish options", jsPubOptions_Init(&options))
                options.MaxWait = timeoutMilliseconds
                // On success the library owns the message (and sets msg to nil).
                try Self.check("publish to \(subject)", js_PublishMsgAsync(js, &msg, &options))
            } catch {
                if let msg { natsMsg_Destroy(msg) }
                throw error
            }
        }
    }

    /// Waits until every asynchronous publish is acknowledged or failed.
    /// - Throws: ``NATSError`` when some are still unanswered after the timeout.
    public func waitForAsyncPublishes(timeoutMilliseconds: Int64 = 10_000) throws {
        try withJetStream { js in
            var options = jsPubOptions()
            try Self.check("publish options", jsPubOptions_Init(&options))
            options.MaxWait = timeoutMilliseconds
            try Self.check("complete asynchronous publishes", js_PublishAsyncComplete(js, &options))
        }
    }

    /// The stream's last sequence and that message's `Nats-Msg-Id` (0 and nil when the
    /// stream is empty).
    public func lastSequenceAndId(stream: String) throws -> (sequence: UInt64, id: String?) {
        let last = try lastSequence(stream: stream)
        guard last > 0 else { return (0, nil) }
        return (last, try message(stream: stream, sequence: last, headers: ["Nats-Msg-Id"]).headers["Nats-Msg-Id"])
    }

    /// Publishes `data` on `subject` with core NATS (no stream, no acknowledgement): for
    /// answers whose receiver may or may not be listening.
    public func publishCore(subject: String, data: [UInt8]) throws {
        let nc = lock.withLock { _ in connection }
        guard let nc else { throw NATSError(operation: "publish", message: "the connection is closed") }
        let status = data.withUnsafeBytes { natsConnection_Publish(nc, subject, $0.baseAddress, Int32($0.count)) }
        try Self.check("publish to \(subject)", status)
    }

    /// A message on `subject` with `data` and `headers`; the caller destroys it (or hands
    /// it to a call that takes it).
    static func message(subject: String, data: [UInt8], headers: [String: String]) throws -> OpaquePointer {
        var msg: OpaquePointer?
        let status = data.withUnsafeBytes { natsMsg_Create(&msg, subject, nil, $0.baseAddress?.assumingMemoryBound(to: CChar.self), Int32($0.count)) }
        try check("message for \(subject)", status)
        guard let msg else { throw NATSError(operation: "message for \(subject)", message: "no message was made") }
        do {
            for (name, value) in headers { try check("header \(name)", natsMsgHeader_Set(msg, name, value)) }
        } catch {
            natsMsg_Destroy(msg)
            throw error
        }
        return msg
    }

    /// Runs blocking nats.c work (a publish waiting for its acknowledgement, a fetch) on
    /// this connection's serial queue, never on the cooperative pool.
    public func offloaded<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try body() }) }
        }
    }

    /// Like ``offloaded(_:)``, on a queue that runs many at once: for publishes that each
    /// wait for their own acknowledgement while others are in flight.
    public func offloadedConcurrently<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Self.waiting.async { continuation.resume(with: Result { try body() }) }
        }
    }
    private static let waiting = DispatchQueue(label: "yidang.nats.waiting", attributes: .concurrent)

    /// A received or stored message's body, copied.
    static func body(of msg: OpaquePointer?) -> [UInt8] {
        let count = Int(natsMsg_GetDataLength(msg))
        guard count > 0, let data = natsMsg_GetData(msg) else { return [] }
        return data.withMemoryRebound(to: UInt8.self, capacity: count) { Array(UnsafeBufferPointer(start: $0, count: count)) }
    }

    /// The values of the headers named in `names` that `msg` has.
    static func headers(_ names: [String], of msg: OpaquePointer?) -> [String: String] {
        var found: [String: String] = [:]
        for name in names {
            var value: UnsafePointer<CChar>?
            if natsMsgHeader_Get(msg, name, &value) == NATS_OK, let value { found[name] = String(cString: value) }
        }
        return found
    }

    /// The JetStream context for the other types of this module.
    func withJetStreamContext<T>(_ body: (OpaquePointer) throws -> T) throws -> T { try withJetStream(body) }

    private func withJetStream<T>(_ body: (OpaquePointer) throws -> T) throws -> T {
        guard let js = lock.withLock({ _ in jetStream }) else { throw NATSError(operation: "jetstream", message: "the connection is closed") }
        return try body(js)
    }

    static func check(_ operation: String, _ status: natsStatus, _ code: jsErrCode = jsErrCode(0)) throws {
        guard status != NATS_OK else { return }
        var last = status
        let detail = nats_GetLastError(&last).map { String(cString: $0) }
        let text = String(cString: natsStatus_GetText(status))
        throw NATSError(operation: operation, message: detail.map { "\(text): \($0)" } ?? text, jetStreamCode: Int(code.rawValue))
    }

    /// `strings` as a C array of C strings for the duration of `body`.
    static func withCStrings<T>(_ strings: [String], _ body: (UnsafeMutablePointer<UnsafePointer<CChar>?>) throws -> T) throws -> T {
        let copies: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
        defer { copies.forEach { free($0) } }
        var pointers: [UnsafePointer<CChar>?] = copies.map { $0.map { UnsafePointer($0) } }
        return try pointers.withUnsafeMutableBufferPointer { try body($0.baseAddress!) }
    }
}
