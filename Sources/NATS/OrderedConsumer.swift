import CNats

/// A message of a stream as an ordered consumer delivers it: its stream sequence, the
/// headers asked for, and its body.
public struct SequencedMessage: Sendable {
    public var sequence: UInt64
    public var headers: [String: String]
    public var data: [UInt8]
}

/// An ordered consumer of a stream (JetStream's own kind for a reader that must see every
/// message once and in order): ephemeral, no acknowledgements, flow-controlled, and
/// recreated by nats.c from the next sequence when a server is lost.
public final class OrderedConsumer: @unchecked Sendable {
    private var subscription: OpaquePointer?
    private let headerNames: [String]

    /// Starts reading `stream` (messages on `subject`) at `startSequence`.
    /// - Throws: ``NATSError`` when JetStream cannot create the consumer.
    public init(connection: NATSConnection, stream: String, subject: String, startSequence: UInt64, headers: [String]) throws {
        headerNames = headers
        subscription = try connection.withJetStreamContext { js in
            var options = jsSubOptions()
            try NATSConnection.check("subscribe options", jsSubOptions_Init(&options))
            var sub: OpaquePointer?
            var code = jsErrCode(0)
            try stream.withCString { streamName in
                options.Stream = streamName
                options.Ordered = true
                options.Config.DeliverPolicy = js_DeliverByStartSequence
                options.Config.OptStartSeq = max(1, startSequence)
                try NATSConnection.check("ordered consumer of \(stream) from \(startSequence)",
                                         js_SubscribeSync(&sub, js, subject, nil, &options, &code), code)
            }
            return sub
        }
    }

    /// The next message, or nil when none came within `timeoutMilliseconds`.
    /// - Throws: ``NATSError`` on anything but a timeout (the consumer is then unusable).
    public func next(timeoutMilliseconds: Int64) throws -> SequencedMessage? {
        guard let subscription else { throw NATSError(operation: "next message", message: "the consumer is closed") }
        var msg: OpaquePointer?
        let status = natsSubscription_NextMsg(&msg, subscription, timeoutMilliseconds)
        if status == NATS_TIMEOUT { return nil }
        try NATSConnection.check("next message", status)
        guard let msg else { return nil }
        defer { natsMsg_Destroy(msg) }
        var meta: UnsafeMutablePointer<jsMsgMetaData>?
        try NATSConnection.check("message metadata", natsMsg_GetMetaData(&meta, msg))
        defer { jsMsgMetaData_Destroy(meta) }
        return SequencedMessage(sequence: meta?.pointee.Sequence.Stream ?? 0, headers: NATSConnection.headers(headerNames, of: msg),
                                data: NATSConnection.body(of: msg))
    }

    /// Up to `batch` messages: waits at most `timeoutMilliseconds` for the first, then
    /// takes only those already delivered to this client.
    /// - Throws: ``NATSError`` on anything but a timeout.
    public func next(batch: Int, timeoutMilliseconds: Int64) throws -> [SequencedMessage] {
        guard let first = try next(timeoutMilliseconds: timeoutMilliseconds) else { return [] }
        var out = [first]
        while out.count < batch, let more = try next(timeoutMilliseconds: 0) { out.append(more) }
        return out
    }

    /// Stops the consumer (JetStream removes an ordered consumer itself).
    public func close() {
        if let subscription { natsSubscription_Destroy(subscription) }
        subscription = nil
    }

    deinit { close() }
}
