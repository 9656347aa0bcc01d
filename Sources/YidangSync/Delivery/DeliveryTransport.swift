import Crypto
import JSON
import YidangStore

/// One message of changes for a subscriber system: consecutive visible changes of one
/// subscription, as CloudEvents, kept unchanged until a transport delivers it.
public struct DeliveryMessage: Sendable {
    /// Names this body and only this body (derived from its bytes), so a receiver that
    /// drops repeated ids never drops a change it has not seen.
    public let id: String
    /// The changes, as CloudEvents.
    public let changes: [JSONValue]
    /// The changes as a JSON array (`application/cloudevents-batch+json`).
    public let body: [UInt8]
    /// The change position scanned up to: the cursor once the message is delivered.
    public let scannedTo: UInt64

    public init(subscription: String, changes: [JSONValue], scannedTo: UInt64) {
        self.changes = changes
        body = JSONWriter.bytes(.array(changes))
        id = "msg_\(subscription)_\(Hex.encode(SHA256.hash(data: body).prefix(16)))"
        self.scannedTo = scannedTo
    }
}

/// Why a delivery failed, and when the receiver asked to be tried again.
public struct DeliveryFailure: Error, Sendable, CustomStringConvertible {
    public var reason: String
    public var retryAfter: Duration?
    public init(_ reason: String, retryAfter: Duration? = nil) { self.reason = reason; self.retryAfter = retryAfter }
    public var description: String { reason }
}

/// Carries messages to one subscriber system (a webhook URL; later a NATS subject).
///
/// Guarantees a transport makes: `deliver` returns only once the receiver has taken the
/// message (for a webhook: answered 2xx). Throws: ``DeliveryFailure`` otherwise; the
/// ``PushDispatcher`` then retries the same message with backoff, and pauses the
/// subscription after too many failures in a row.
public protocol DeliveryTransport: Sendable {
    func deliver(_ message: DeliveryMessage) async throws(DeliveryFailure)
}
