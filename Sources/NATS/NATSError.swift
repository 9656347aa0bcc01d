/// A failed nats.c call: the operation, the library's status text, and JetStream's error
/// code when the server gave one.
public struct NATSError: Error, CustomStringConvertible, Sendable {
    public let operation: String
    public let message: String
    /// JetStream's API error code (e.g. 10059 stream not found), 0 when none.
    public let jetStreamCode: Int
    public init(operation: String, message: String, jetStreamCode: Int = 0) {
        self.operation = operation; self.message = message; self.jetStreamCode = jetStreamCode
    }
    public var description: String {
        "nats \(operation): \(message)" + (jetStreamCode != 0 ? " (JetStream error \(jetStreamCode))" : "")
    }
}
