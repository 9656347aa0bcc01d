import CNats

/// A message fetched from a JetStream pull consumer, held until it is acknowledged.
public final class DeliveredMessage: @unchecked Sendable {
    fileprivate var message: OpaquePointer?
    public let subject: String
    public let data: [UInt8]
    public let headers: [String: String]

    fileprivate init(_ message: OpaquePointer, headers names: [String]) {
        self.message = message
        subject = String(cString: natsMsg_GetSubject(message))
        data = NATSConnection.body(of: message)
        headers = NATSConnection.headers(names, of: message)
    }

    /// Acknowledges the message: the consumer will not deliver it again.
    /// - Throws: ``NATSError`` when the acknowledgement cannot be sent (it is then redelivered
    ///   after the consumer's ack wait).
    public func ack() throws {
        guard let message else { return }
        try NATSConnection.check("ack \(subject)", natsMsg_Ack(message, nil))
    }

    deinit { if let message { natsMsg_Destroy(message) } }
}

/// A durable pull consumer of a stream (at least once: a message not acknowledged within
/// the ack wait is delivered again).
public final class PullConsumer: @unchecked Sendable {
    private var subscription: OpaquePointer?

    /// Binds to (creating when missing) the durable consumer `durable` of `stream`, filtered
    /// to `subject`, acknowledging each message explicitly.
    public init(connection: NATSConnection, stream: String, subject: String, durable: String, ackWaitSeconds: Int = 30) throws {
        subscription = try connection.withJetStreamContext { js in
            var options = jsSubOptions()
            try NATSConnection.check("subscribe options", jsSubOptions_Init(&options))
            var sub: OpaquePointer?
            var code = jsErrCode(0)
            try stream.withCString { streamName in
                try durable.withCString { durableName in
                    options.Stream = streamName
                    options.Config.Durable = durableName
                    options.Config.AckPolicy = js_AckExplicit
                    options.Config.AckWait = Int64(ackWaitSeconds) * 1_000_000_000
                    try NATSConnection.check("pull subscribe \(subject) as \(durable)",
                                             js_PullSubscribe(&sub, js, subject, durable, nil, &options, &code), code)
                }
            }
            return sub
        }
    }

    /// Up to `batch` messages, waiting at most `timeoutMilliseconds` for the first; an
    /// empty array when none came.
    /// - Throws: ``NATSError`` on anything but a timeout.
    public func fetch(batch: Int, timeoutMilliseconds: Int64, headers: [String] = []) throws -> [DeliveredMessage] {
        guard let subscription else { throw NATSError(operation: "fetch", message: "the consumer is closed") }
        var list = natsMsgList()
        var code = jsErrCode(0)
        let status = natsSubscription_Fetch(&list, subscription, Int32(batch), timeoutMilliseconds, &code)
        if status == NATS_TIMEOUT { return [] }
        try NATSConnection.check("fetch", status, code)
        var out: [DeliveredMessage] = []
        for i in 0..<Int(list.Count) {
            guard let m = list.Msgs[i] else { continue }
            out.append(DeliveredMessage(m, headers: headers))
            list.Msgs[i] = nil   // now owned by the DeliveredMessage
        }
        natsMsgList_Destroy(&list)
        return out
    }

    /// Stops the subscription (the durable consumer stays on the server).
    public func close() {
        if let subscription { natsSubscription_Destroy(subscription) }
        subscription = nil
    }

    deinit { close() }
}
