/// An error reported by RocksDB, carrying RocksDB's own message.
public struct RocksDBError: Error, CustomStringConvertible, Sendable {
    public let operation: String
    public let message: String
    public init(operation: String, message: String) {
        self.operation = operation
        self.message = message
    }
    public var description: String { "rocksdb \(operation): \(message)" }
}
