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
    /// Asks whether claims about a person or enterprise are true, without reading them.
    case verifier
    /// Reads, settles conflicts, sees quality figures.
    case steward
    /// Everything, including tokens and subscriptions of others.
    case admin
}

/// The caller behind a bearer token.
public struct Principal: Sendable, Hashable {
    /// The token's id (`tok_…`), or `local` for a command run on the data directory.
    public var tokenId: String
    public var name: String
    public var role: Role
    /// For publishers: the only department they may publish as; for subscribers: their
    /// department (correction notices addressed to it reach its subscriptions).
    public var source: String?
    /// The highest sensitivity this caller may see or grant (subscribers default L2, admin L4).
    public var clearance: Sensitivity
    /// For verifiers: the only attributes they may ask about (nil: any within clearance).
    public var attributes: Set<String>?
    /// When the token stops working (microseconds since the epoch), if ever.
    public var expires: Int64?

    public init(name: String, role: Role, source: String?, clearance: Sensitivity? = nil, tokenId: String = "local",
                attributes: Set<String>? = nil, expires: Int64? = nil) {
        self.tokenId = tokenId; self.name = name; self.role = role; self.source = source
        self.clearance = clearance ?? Self.defaultClearance(role)
        self.attributes = attributes; self.expires = expires
    }

    /// L4 for admins, L2 for subscribers and verifiers, L3 for the rest.
    public static func defaultClearance(_ role: Role) -> Sensitivity {
        switch role {
        case .admin: return .L4
        case .subscriber, .verifier: return .L2
        default: return .L3
        }
    }
}

/// A stored token as operators see it (never the token, never its digest).
public struct TokenInfo: Sendable {
    public var principal: Principal
    public var created: Int64
    public var lastUsed: Int64?
    public var id: String { principal.tokenId }

    /// `{id, name, role, source, clearance, attributes, created, expires, lastUsed}`.
    public func json() -> JSONValue {
        let p = principal
        return ["id": .string(p.tokenId), "name": .string(p.name), "role": .string(p.role.rawValue), "source": JSONValue(p.source),
                "clearance": .string(p.clearance.rawValue),
                "attributes": p.attributes.map { .array($0.sorted().map { .string($0) }) } ?? .null,
                "created": .string(Timestamp.format(created)), "expires": p.expires.map { .string(Timestamp.format($0)) } ?? .null,
                "lastUsed": lastUsed.map { .string(Timestamp.format($0)) } ?? .null]
    }
}

/// A token just created: the secret (shown once) and what it grants.
public struct IssuedToken: Sendable {
    public var token: String
    public var info: TokenInfo
    /// Where and how the token is stored (its digest's key and record).
    public var key: [UInt8] { TokenStore.key(TokenStore.digest(token)) }
    public var record: [UInt8] { JSONWriter.bytes(TokenStore.record(info, digest: TokenStore.digest(token))) }
}

/// API tokens, stored only as SHA-256 digests (key `0x21 ‖ digest`). A token's id is
/// `tok_` and the first 16 hex digits of its digest: stable, and useless for guessing it.
///
/// Authenticated principals are cached by digest. Revoking a token removes it from the
/// store and the cache under one lock, and marks its id so that a lookup racing with the
/// revocation cannot put it back: a revoked token is refused from the next request on.
/// Expiry is checked on every request, cached or not.
public struct TokenStore: Sendable {
    public let database: Database
    private let cache: PrincipalCache
    public init(database: Database) {
        self.database = database
        self.cache = PrincipalCache()
    }

    /// A new token and the record that stores it, not stored yet (a cluster node puts the
    /// record into the replicated log).
    public static func mint(role: Role, source: String?, name: String, clearance: Sensitivity? = nil, attributes: Set<String>? = nil,
                            expires: Int64? = nil, now: Int64 = Timestamp.now()) -> IssuedToken {
        var random = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &random) }
        let token = "yd_" + Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        let digest = TokenStore.digest(token)
        let principal = Principal(name: name, role: role, source: source, clearance: clearance, tokenId: Self.id(digest),
                                  attributes: attributes, expires: expires)
        let info = TokenInfo(principal: principal, created: now, lastUsed: nil)
        return IssuedToken(token: token, info: info)
    }

    /// Creates a token; only its digest is stored, so the token is shown once.
    public func issue(role: Role, source: String?, name: String, clearance: Sensitivity? = nil, attributes: Set<String>? = nil,
                      expires: Int64? = nil, now: Int64 = Timestamp.now()) throws -> IssuedToken {
        let issued = Self.mint(role: role, source: source, name: name, clearance: clearance, attributes: attributes, expires: expires, now: now)
        try database.put(issued.key, issued.record)
        return issued
    }

    /// Creates a token and returns it alone.
    public func create(role: Role, source: String?, name: String, clearance: Sensitivity? = nil) throws -> String {
        try issue(role: role, source: source, name: name, clearance: clearance).token
    }

    /// The principal of `token`, or nil when no such token is stored, it was revoked or
    /// it has expired. The stored digest is compared in constant time.
    /// - Throws: when the store cannot be read, or holds a token record it cannot read (a
    ///   caller is then neither let in nor told its token is wrong).
    public func authenticate(_ token: String, now: Int64 = Timestamp.now()) throws -> Principal? {
        let digest = TokenStore.digest(token)
        let principal: Principal
        if let known = cache.get(digest) {
            principal = known
        } else {
            guard let stored = try lookup(digest) else { return nil }
            principal = stored.principal
            cache.put(digest, principal)
        }
        if let expires = principal.expires, expires <= now { return nil }
        return principal
    }

    /// Notes that `principal` was just used; the stored `lastUsed` is rewritten at most
    /// once a minute per token.
    /// - Throws: when the token record cannot be rewritten.
    public func noteUse(_ principal: Principal, now: Int64 = Timestamp.now()) throws {
        guard cache.noteUse(principal.tokenId, now: now, every: 60_000_000) else { return }
        try cache.withRevocationLock {
            guard let (digest, info) = try find(id: principal.tokenId) else { return }
            var updated = info
            updated.lastUsed = now
            try database.put(Self.key(digest), JSONWriter.bytes(Self.record(updated, digest: digest)), sync: false)
        }
    }

    /// Every stored token, oldest first.
    public func list() throws -> [TokenInfo] {
        var out: [TokenInfo] = []
        try database.scan(from: [Keys.token], to: [Keys.token + 1]) { key, value in
            out.append(try Self.decode(value, digest: Array(key.dropFirst())))
            return true
        }
        return out.map { info in
            var i = info
            if let used = cache.lastUse(i.id), used > (i.lastUsed ?? 0) { i.lastUsed = used }
            return i
        }.sorted { ($0.created, $0.id) < ($1.created, $1.id) }
    }

    /// Revokes the token with `id`: it is refused from the next request on.
    /// - Returns: the revoked token, or nil when no token has this id.
    /// - Throws: when the store cannot be read or written (the token may then still work).
    public func revoke(id: String) throws -> TokenInfo? {
        try cache.withRevocationLock {
            guard let (digest, info) = try find(id: id) else { return nil }
            cache.revoke(id: id)
            try database.delete(Self.key(digest), sync: true)
            return info
        }
    }

    /// The token with `id`, if one is stored.
    /// - Throws: when the store cannot be read.
    public func info(id: String) throws -> TokenInfo? { try find(id: id)?.1 }

    /// The effect of revoking `id` in a replicated entry: its record deleted.
    public func revocationEffect(id: String) -> StoreEffect {
        { read in
            var keys: [[UInt8]] = []
            try database.scan(from: [Keys.token], to: [Keys.token + 1]) { key, _ in
                if Self.id(Array(key.dropFirst())) == id { keys.append(key) }
                return true
            }
            return keys.map { ($0, nil) }
        }
    }

    /// After a replica applied a revocation: the id is barred and its cached principal gone,
    /// and a `lastUsed` rewrite racing with the delete is undone (under the revocation lock).
    /// - Throws: when the record cannot be deleted.
    public func revoked(id: String) throws {
        try cache.withRevocationLock {
            cache.revoke(id: id)
            if let (digest, _) = try find(id: id) { try database.delete(Self.key(digest), sync: true) }
        }
    }

    private func find(id: String) throws -> ([UInt8], TokenInfo)? {
        var found: ([UInt8], TokenInfo)?
        try database.scan(from: [Keys.token], to: [Keys.token + 1]) { key, value in
            let digest = Array(key.dropFirst())
            guard Self.id(digest) == id else { return true }
            found = (digest, try Self.decode(value, digest: digest))
            return false
        }
        return found
    }

    private func lookup(_ digest: [UInt8]) throws -> TokenInfo? {
        guard let stored = try database.get(Self.key(digest)) else { return nil }
        let (info, storedDigest) = try Self.decodeRecord(stored, digest: digest)
        guard TokenStore.constantTimeEqual(Array(TokenStore.hex(digest).utf8), Array(storedDigest.utf8)) else { return nil }
        return info
    }

    static func record(_ info: TokenInfo, digest: [UInt8]) -> JSONValue {
        let p = info.principal
        return ["name": .string(p.name), "role": .string(p.role.rawValue), "source": JSONValue(p.source), "digest": .string(hex(digest)),
                "clearance": .string(p.clearance.rawValue),
                "attributes": p.attributes.map { .array($0.sorted().map { .string($0) }) } ?? .null,
                "created": .string(Timestamp.format(info.created)),
                "expires": p.expires.map { .string(Timestamp.format($0)) } ?? .null,
                "lastUsed": info.lastUsed.map { .string(Timestamp.format($0)) } ?? .null]
    }

    static func decode(_ value: [UInt8], digest: [UInt8]) throws -> TokenInfo { try decodeRecord(value, digest: digest).info }

    /// A stored record and the digest it names (parsed once).
    static func decodeRecord(_ value: [UInt8], digest: [UInt8]) throws -> (info: TokenInfo, storedDigest: String) {
        guard case .object(let o) = try JSONParser.parse(value), let role = o["role"]?.stringValue.flatMap(Role.init(rawValue:)) else {
            throw StoreError.corrupt("the token record \(id(digest)) has no role")
        }
        // Records written before tokens carried these fields: created unknown (the epoch),
        // created with the ISO 8601 formatter (no fraction), clearance by role.
        let created = o["created"]?.stringValue.flatMap(Timestamp.parse) ?? 0
        let attributes = o["attributes"]?.arrayValue.map { Set($0.compactMap(\.stringValue)) }
        let principal = Principal(name: o["name"]?.stringValue ?? "", role: role, source: o["source"]?.stringValue,
                                  clearance: o["clearance"]?.stringValue.flatMap(Sensitivity.init(rawValue:)), tokenId: id(digest),
                                  attributes: attributes, expires: o["expires"]?.stringValue.flatMap(Timestamp.parse))
        return (TokenInfo(principal: principal, created: created, lastUsed: o["lastUsed"]?.stringValue.flatMap(Timestamp.parse)),
                o["digest"]?.stringValue ?? "")
    }

    static func id(_ digest: [UInt8]) -> String { "tok_" + hex(Array(digest.prefix(8))) }
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

extension TokenStore {
    /// A lifetime such as `90d`, `12h` or `30m`, or an RFC 3339 instant, as the instant it
    /// ends (microseconds since the epoch).
    /// - Throws: ``EventRejection`` naming `field` when it is neither, or not in the future.
    public static func expiry(_ text: String, field: String, now: Int64 = Timestamp.now()) throws(EventRejection) -> Int64 {
        let units: [Character: Int64] = ["d": 86_400, "h": 3_600, "m": 60]
        if let unit = text.last, let seconds = units[unit], let n = Int64(text.dropLast()), n > 0, n <= 36_500 * 24 * 60 {
            return now + n * seconds * 1_000_000
        }
        guard let instant = Timestamp.parse(text) else {
            throw EventRejection(field, .invalidField, "must be a lifetime such as 90d, 12h or 30m, or an RFC 3339 time, got \"\(text)\"")
        }
        guard instant > now else { throw EventRejection(field, .invalidField, "must be in the future, got \(text)") }
        return instant
    }
}

/// Authenticated principals by token digest (bounded), the ids revoked since start, and
/// when each token was last used.
final class PrincipalCache: Sendable {
    private struct State {
        var entries: [[UInt8]: Principal] = [:]
        var revoked: Set<String> = []
        var used: [String: (noted: Int64, persisted: Int64)] = [:]
    }
    private let state = Mutex(State())
    /// Serialises revocations with record rewrites, so a `lastUsed` update cannot write
    /// back a token being revoked.
    private let revocation = Mutex(())

    func get(_ digest: [UInt8]) -> Principal? {
        state.withLock { s in s.entries[digest].flatMap { s.revoked.contains($0.tokenId) ? nil : $0 } }
    }
    func put(_ digest: [UInt8], _ p: Principal) {
        state.withLock { s in
            guard !s.revoked.contains(p.tokenId) else { return }
            if s.entries.count > 10_000 { s.entries.removeAll() }
            s.entries[digest] = p
        }
    }
    func revoke(id: String) {
        state.withLock { s in
            s.revoked.insert(id)
            s.entries = s.entries.filter { $0.value.tokenId != id }
            s.used[id] = nil
        }
    }
    /// Records a use; true when the stored `lastUsed` is older than `every`.
    func noteUse(_ id: String, now: Int64, every: Int64) -> Bool {
        state.withLock { s in
            guard !s.revoked.contains(id) else { return false }
            let prior = s.used[id]
            let due = now - (prior?.persisted ?? .min / 2) >= every
            s.used[id] = (now, due ? now : prior?.persisted ?? now)
            return due
        }
    }
    func lastUse(_ id: String) -> Int64? { state.withLock { $0.used[id]?.noted } }
    func withRevocationLock<T>(_ body: () throws -> T) throws -> T {
        try revocation.withLock { _ in try body() }
    }
}

/// Where token changes are ordered before they are stored: the token store itself on one
/// node, the replicated log in a cluster (so that every node knows every token).
public protocol TokenLedger: Sendable {
    /// Stores a new token and returns it (shown once).
    /// - Throws: when it cannot be stored.
    func issueToken(_ request: TokenRequest) async throws -> IssuedToken
    /// Revokes `id`; nil when no token has it.
    /// - Throws: when the store cannot be read or written (the token may then still work).
    func revokeToken(id: String) async throws -> TokenInfo?
}

extension TokenStore: TokenLedger {
    public func issueToken(_ request: TokenRequest) async throws -> IssuedToken { try issue(request) }
    public func revokeToken(id: String) async throws -> TokenInfo? { try revoke(id: id) }
}
