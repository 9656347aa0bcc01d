import AsyncHTTPClient
import Foundation
import JSON
import NIOCore
import NIOHTTP1
import YidangModel

/// A running hub reached over HTTP with a bearer token (async-http-client).
final class RemoteClient: HubClient, @unchecked Sendable {
    let base: String
    let token: String
    let client = HTTPClient(eventLoopGroupProvider: .singleton,
                            configuration: HTTPClient.Configuration(timeout: .init(connect: .seconds(2))))

    init(base: String, token: String) throws {
        guard let url = URL(string: base), ["http", "https"].contains(url.scheme ?? "") else {
            throw CLIError.failure("--server: expected an http(s) URL such as http://127.0.0.1:8080, got \(base)")
        }
        self.base = base.hasSuffix("/") ? String(base.dropLast()) : base
        self.token = token
    }

    func close() async { try? await client.shutdown() }   // at exit: nothing left to lose

    static func escape(_ s: String) -> String {
        s.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed.subtracting(CharacterSet(charactersIn: "&=+/?#"))) ?? s
    }

    /// Sends a request; maps problems to CLI errors with distinct exit codes.
    func send(_ method: HTTPMethod, _ path: String, query: [String: String] = [:], body: [UInt8]? = nil,
              contentType: String = "application/json", timeout: Int64 = 60) async throws -> JSONValue {
        var url = base + path
        if !query.isEmpty {
            url += "?" + query.sorted { $0.key < $1.key }.map { "\($0.key)=\(Self.escape($0.value))" }.joined(separator: "&")
        }
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers.add(name: "authorization", value: "Bearer \(token)")
        if let body {
            request.headers.add(name: "content-type", value: contentType)
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let response: HTTPClientResponse
        do { response = try await client.execute(request, timeout: .seconds(timeout)) } catch {
            let text = "\(error)"
            let reason = text.contains("refused") ? "connection refused" : text.contains("imeout") ? "timed out" : text
            throw CLIError.unreachable("cannot reach \(base): \(reason)")
        }
        let bytes = Array(try await response.body.collect(upTo: 256 << 20).readableBytesView)
        // A body that is not JSON (a proxy's error page) is shown as text.
        let json = bytes.isEmpty ? JSONValue.null : ((try? JSONParser.parse(bytes)) ?? .string(String(decoding: bytes, as: UTF8.self)))
        let code = Int(response.status.code)
        guard code >= 400 else { return json }
        let detail = json["detail"]?.stringValue ?? "HTTP \(code)"
        switch code {
        case 401, 403: throw CLIError.unauthorized(detail)
        case 404: throw CLIError.notFound(detail)
        default: throw CLIError.failure(detail)
        }
    }

    func record(kind: String, id: String, asOf: String?, knownAt: String?, lineage: Bool) async throws -> JSONValue {
        var q: [String: String] = [:]
        if let asOf { q["asOf"] = asOf }
        if let knownAt { q["knownAt"] = knownAt }
        if lineage { q["lineage"] = "true" }
        return try await send(.GET, "/v1/\((EntityKind(rawValue: kind) ?? .person).traits.route)/\(Self.escape(id))", query: q)
    }

    func history(subject: String) async throws -> JSONValue {
        let s: Subject
        do { s = try Subject(reference: subject) } catch { throw CLIError.failure(error.description) }
        return try await send(.GET, "/v1/\(s.kind.traits.route)/\(Self.escape(s.id))/history")
    }

    func conflicts(query: [String: String]) async throws -> [JSONValue] {
        try await send(.GET, "/v1/conflicts", query: query)["conflicts"]?.arrayValue ?? []
    }

    func conflict(id: UInt64) async throws -> JSONValue { try await send(.GET, "/v1/conflicts/\(id)") }

    func resolve(id: UInt64, action: String, value: String?, source: String?, note: String?, steward: String?, force: Bool) async throws -> JSONValue {
        var o: JSONObject = ["action": .string(action)]
        if let value { o["value"] = .string(value) }
        if let source { o["source"] = .string(source) }
        if let note { o["note"] = .string(note) }
        if force { o["force"] = true }
        return try await send(.POST, "/v1/conflicts/\(id)/resolve", body: JSONWriter.bytes(.object(o)))
    }

    func changes(subscription: String?, after: UInt64?, limit: Int, wait: Int) async throws -> JSONValue {
        guard let subscription else { throw CLIError.failure("remote mode reads the feed through a subscription: --subscription ID") }
        var q = ["subscription": subscription, "limit": String(limit)]
        if let after { q["after"] = String(after) }
        if wait > 0 { q["wait"] = String(wait) }
        return try await send(.GET, "/v1/changes", query: q, timeout: Int64(wait + 30))
    }

    func quality() async throws -> [JSONValue] { try await send(.GET, "/v1/quality")["departments"]?.arrayValue ?? [] }

    func matches(query: [String: String]) async throws -> [JSONValue] {
        try await send(.GET, "/v1/matches", query: query)["matches"]?.arrayValue ?? []
    }
    func match(id: UInt64) async throws -> JSONValue { try await send(.GET, "/v1/matches/\(id)") }
    func decideMatch(id: UInt64, confirm: Bool, note: String?, steward: String?) async throws -> JSONValue {
        let body: JSONValue = note.map { ["note": .string($0)] } ?? [:]
        return try await send(.POST, "/v1/matches/\(id)/\(confirm ? "confirm" : "reject")", body: JSONWriter.bytes(body))
    }
    func merge(from: String, into: String, note: String?, steward: String?) async throws -> JSONValue {
        var o: JSONObject = ["from": .string(from), "into": .string(into)]
        if let note { o["note"] = .string(note) }
        return try await send(.POST, "/v1/merges", body: JSONWriter.bytes(.object(o)))
    }
    func unmerge(source: String, key: String, kind: String, note: String?, steward: String?) async throws -> JSONValue {
        var o: JSONObject = ["source": .string(source), "key": .string(key), "kind": .string(kind)]
        if let note { o["note"] = .string(note) }
        return try await send(.POST, "/v1/unmerges", body: JSONWriter.bytes(.object(o)))
    }
    func crosswalks(query: [String: String]) async throws -> [JSONValue] {
        try await send(.GET, "/v1/crosswalks", query: query)["crosswalks"]?.arrayValue ?? []
    }
    func subscriptions() async throws -> [JSONValue] { try await send(.GET, "/v1/subscriptions")["subscriptions"]?.arrayValue ?? [] }
    func subscription(id: String) async throws -> JSONValue { try await send(.GET, "/v1/subscriptions/\(Self.escape(id))") }
    func createSubscription(_ body: JSONValue) async throws -> JSONValue { try await send(.POST, "/v1/subscriptions", body: JSONWriter.bytes(body)) }
    func deleteSubscription(id: String) async throws { _ = try await send(.DELETE, "/v1/subscriptions/\(Self.escape(id))") }

    func verifyClaims(_ body: JSONValue) async throws -> JSONValue { try await send(.POST, "/v1/verify", body: JSONWriter.bytes(body)) }
    func tokens() async throws -> [JSONValue] { try await send(.GET, "/v1/tokens")["tokens"]?.arrayValue ?? [] }
    func createToken(_ body: JSONValue) async throws -> JSONValue { try await send(.POST, "/v1/tokens", body: JSONWriter.bytes(body)) }
    func revokeToken(id: String) async throws -> JSONValue { try await send(.DELETE, "/v1/tokens/\(Self.escape(id))") }
    func audit(limit: Int) async throws -> [JSONValue] {
        try await send(.GET, "/v1/audit", query: ["limit": String(limit)])["entries"]?.arrayValue ?? []
    }

    /// Posts NDJSON to /v1/events (remote import).
    func publish(ndjson: [UInt8]) async throws -> JSONValue {
        try await send(.POST, "/v1/events", body: ndjson, contentType: "application/x-ndjson", timeout: 600)
    }
}
