import Crypto
import Foundation
import Synchronization
import JSON
import RocksDB
import YidangModel

/// What a token may do.
public enum Role: String, Sendable, CaseIterable {
    /// Publishes events as one department.
    case publisher
    /// Reads golden records and history.
    case reader
    /// Reads the change feed through its subscriptions.
    case subscriber
    /// Reads, settles conflicts, sees quality figures.
    case steward
    /// Everything, including tokens and subscriptions of others.
    case admin
}

/// The caller behind a bearer token.
public struct Principal: Sendable, Hashable {
    public var name: String
    public var role: Role
    /// For publishers: the only department they may publish as; for subscribers: their
    /// department (correction notices addressed to it reach its subscriptions).
    public var source: String?
    /// The highest sensitivity this caller may see or grant (subscribers default L2, admin L4).
    public var clearance: Sensitivity
    public init(name: String, role: Role, source: String?, clearance: Sensitivity? = nil) {
        self.name = name; self.role = role; self.source = source
        self.clearance = clearance ?? (role == .admin ? .L4 : role == .subscriber ? .L2 : .L3)
    }
}

/// API tokens, stored only as SHA-256 digests (key `0x21 ‖ digest`). Authenticated
/// principals are cached by digest (tokens are never edited in place).
public struct TokenStore: Sendable {
    public let database: Database
    private let cache = PrincipalCache()
    public init(database: Database) { self.database = database }

    /// Creates a token and returns it; only its digest is stored, so it is shown once.
    public func create(role: Role, source: String?, name: String, clearance: Sensitivity? = nil) throws -> String {
        var random = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &random) }
        let token = "yd_" + Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        let digestHex = TokenStore.hex(TokenStore.digest(token))
        let record: JSONValue = ["name": .string(name), "role": .string(role.rawValue), "source": JSONValue(source), "digest": .string(digestHex),
                                 "clearance": JSONValue(clearance?.rawValue),
                                 "created": .string(ISO8601DateFormatter().string(from: Date()))]
        try database.put(Self.key(TokenStore.digest(token)), JSONWriter.bytes(record))
        return token
    }

    /// The principal of `token`, or nil when no such token is stored. The stored digest is
    /// compared in constant time.
    /// - Throws: when the store cannot be read, or holds a token record it cannot read (a
    ///   caller is then neither let in nor told its token is wrong).
    public func authenticate(_ token: String) throws -> Principal? {
        let digest = TokenStore.digest(token)
        if let known = cache.get(digest) { return known }
        let principal = try lookup(digest)
        if let principal { cache.put(digest, principal) }
        return principal
    }

    private func lookup(_ digest: [UInt8]) throws -> Principal? {
        guard let stored = try database.get(Self.key(digest)) else { return nil }
        guard case .object(let o) = try JSONParser.parse(stored), let role = o["role"]?.stringValue.flatMap(Role.init(rawValue:)) else {
            throw StoreError.corrupt("the token record for digest \(TokenStore.hex(digest).prefix(12))… has no role")
        }
        let hex = TokenStore.hex(digest)
        guard TokenStore.constantTimeEqual(Array(hex.utf8), Array((o["digest"]?.stringValue ?? "").utf8)) else { return nil }
        return Principal(name: o["name"]?.stringValue ?? "", role: role, source: o["source"]?.stringValue,
                         clearance: o["clearance"]?.stringValue.flatMap(Sensitivity.init(rawValue:)))
    }

    /// All principals (digests are never shown).
    public func list() throws -> [Principal] {
        var out: [Principal] = []
        try database.scan(from: [Keys.token], to: [Keys.token + 1]) { _, value in
            guard case .object(let o) = try JSONParser.parse(value), let role = o["role"]?.stringValue.flatMap(Role.init(rawValue:)) else {
                throw StoreError.corrupt("a token record has no role")
            }
            out.append(Principal(name: o["name"]?.stringValue ?? "", role: role, source: o["source"]?.stringValue))
            return true
        }
        return out
    }

    static func digest(_ token: String) -> [UInt8] { Array(SHA256.hash(data: Data(token.utf8))) }
    static func hex(_ bytes: [UInt8]) -> String { Hex.encode(bytes) }
    static func key(_ digest: [UInt8]) -> [UInt8] { Keys.tokenKey(digest) }

    /// Constant-time equality of two byte strings of equal length.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for i in a.indices { diff |= a[i] ^ b[i] }
        return diff == 0
    }
}

/// PIPL-style access accounting: who read which person, who settled what.
public final class AuditTrail: Sendable {
    public let database: Database
    private let sequence = AtomicCounter()
    public init(database: Database) { self.database = database }

    /// Appends an entry (who, in which role, did what to which subject).
    /// - Throws: ``RocksDBError`` when it cannot be written; a caller must then not serve
    ///   the access it was recording (PIPL access accounting may not have holes).
    public func record(caller: String, role: Role, action: String, subject: String?, detail: String? = nil) throws {
        let now = UInt64(max(0, Date().timeIntervalSince1970 * 1_000_000))
        let key = Keys.auditKey(time: now, sequence: UInt32(truncatingIfNeeded: sequence.next()))
        let value: JSONValue = ["time": .string(Timestamp.format(Int64(now))), "caller": .string(caller),
                                "role": .string(role.rawValue), "action": .string(action), "subject": JSONValue(subject),
                                "detail": JSONValue(detail)]
        try database.put(key, JSONWriter.bytes(value), sync: false)
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

/// Authenticated principals by token digest (bounded).
final class PrincipalCache: Sendable {
    private let entries = Mutex<[[UInt8]: Principal]>([:])
    func get(_ digest: [UInt8]) -> Principal? { entries.withLock { $0[digest] } }
    func put(_ digest: [UInt8], _ p: Principal) {
        entries.withLock { entries in
            if entries.count > 10_000 { entries.removeAll() }
            entries[digest] = p
        }
    }
}

final class AtomicCounter: Sendable {
    private let value = Atomic<UInt64>(0)
    func next() -> UInt64 { value.add(1, ordering: .relaxed).newValue }
}
