import Foundation
import Synchronization
import JSON
import RocksDB
import YidangModel

/// PIPL-style access accounting: who read which person, who settled what.
public final class AuditTrail: Sendable {
    public let database: Database
    private let sequence = AtomicCounter()
    public init(database: Database) { self.database = database }

    /// Appends an entry (who, in which role, did what to which subject).
    /// - Throws: ``RocksDBError`` when it cannot be written; a caller must then not serve
    ///   the access it was recording (PIPL access accounting may not have holes).
    public func record(caller: String, role: Role, action: String, subject: String?, detail: String? = nil,
                       token: String? = nil, extra: JSONObject = [:]) throws {
        let now = UInt64(max(0, Date().timeIntervalSince1970 * 1_000_000))
        let key = Keys.auditKey(time: now, sequence: UInt32(truncatingIfNeeded: sequence.next()))
        var entry: JSONObject = ["time": .string(Timestamp.format(Int64(now))), "caller": .string(caller),
                                 "role": .string(role.rawValue), "action": .string(action), "subject": JSONValue(subject),
                                 "detail": JSONValue(detail)]
        if let token { entry["token"] = .string(token) }
        for (k, v) in extra { entry[k] = v }
        try database.put(key, JSONWriter.bytes(.object(entry)), sync: false)
    }

    /// The most recent entries, newest first.
    public func recent(limit: Int) throws -> [JSONValue] {
        var out: [JSONValue] = []
        try database.scan(from: [Keys.audit], to: [Keys.audit + 1], reverse: true) { _, v in
            out.append(try JSONParser.parse(v))
            return out.count < limit
        }
        return out
    }
}

final class AtomicCounter: Sendable {
    private let value = Atomic<UInt64>(0)
    func next() -> UInt64 { value.add(1, ordering: .relaxed).newValue }
}
