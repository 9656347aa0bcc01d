import Foundation
import ArgumentParser
import JSON

/// What the CLI asks of a hub, in the JSON shapes of the HTTP API, so local and remote
/// mode print the same thing. ``LocalClient`` works on a data directory, ``RemoteClient``
/// talks to a server.
protocol HubClient: Sendable {
    /// A golden record (`GET /v1/persons/{id}` shape).
    func record(kind: String, id: String, asOf: String?, knownAt: String?, lineage: Bool) async throws -> JSONValue
    /// `{subject, events}`.
    func history(subject: String) async throws -> JSONValue
    func conflicts(query: [String: String]) async throws -> [JSONValue]
    func conflict(id: UInt64) async throws -> JSONValue
    func resolve(id: UInt64, action: String, value: String?, source: String?, note: String?, steward: String?, force: Bool) async throws -> JSONValue
    /// `{changes, next}`: the raw feed locally, one subscription's view remotely.
    func changes(subscription: String?, after: UInt64?, limit: Int, wait: Int) async throws -> JSONValue
    func quality() async throws -> [JSONValue]
    func subscriptions() async throws -> [JSONValue]
    func subscription(id: String) async throws -> JSONValue
    func createSubscription(_ body: JSONValue) async throws -> JSONValue
    func deleteSubscription(id: String) async throws
    /// `POST /v1/verify`: per claim match / mismatch / partial / unknown, audited.
    func verifyClaims(_ body: JSONValue) async throws -> JSONValue
    /// `GET /v1/tokens`.
    func tokens() async throws -> [JSONValue]
    /// `POST /v1/tokens`: the token's fields and `token`, shown once.
    func createToken(_ body: JSONValue) async throws -> JSONValue
    /// `DELETE /v1/tokens/{id}`: the revoked token.
    func revokeToken(id: String) async throws -> JSONValue
    /// `GET /v1/audit`: newest first.
    func audit(limit: Int) async throws -> [JSONValue]
    /// `GET /v1/matches` (query: status, kind, limit).
    func matches(query: [String: String]) async throws -> [JSONValue]
    /// `GET /v1/matches/{id}`: both records side by side.
    func match(id: UInt64) async throws -> JSONValue
    /// `POST /v1/matches/{id}/confirm` or `/reject`.
    func decideMatch(id: UInt64, confirm: Bool, note: String?, steward: String?) async throws -> JSONValue
    /// `POST /v1/merges`: `{survivor, absorbed}`.
    func merge(from: String, into: String, note: String?, steward: String?) async throws -> JSONValue
    /// `POST /v1/unmerges`: `{source, key, subject}`.
    func unmerge(source: String, key: String, kind: String, note: String?, steward: String?) async throws -> JSONValue
    /// `GET /v1/crosswalks` (query: source, key, kind).
    func crosswalks(query: [String: String]) async throws -> [JSONValue]
    func close() async
}

/// Where the CLI connects: `--server URL --token T` (or YIDANG_SERVER / YIDANG_TOKEN) for
/// remote mode, else local mode on `--data`.
struct ConnectionOptions: ParsableArguments {
    @OptionGroup var data: DataOptions
    @Option(help: "Server URL for remote mode (or $YIDANG_SERVER), e.g. http://127.0.0.1:8080.") var server: String?
    @Option(help: "Bearer token for remote mode (or $YIDANG_TOKEN).") var token: String?

    /// - Parameter readOnly: the command only reads; in local mode the store is opened
    ///   without automatic compactions (a short-lived reader would only cancel, or wait for,
    ///   a merge it started).
    /// The server client when remote mode is asked for, else nil.
    func remoteClient() throws -> RemoteClient? {
        let env = ProcessInfo.processInfo.environment
        guard let url = server ?? env["YIDANG_SERVER"] else { return nil }
        guard let token = token ?? env["YIDANG_TOKEN"] else { throw CLIError.unauthorized("remote mode needs --token or $YIDANG_TOKEN") }
        return try RemoteClient(base: url, token: token)
    }

    func client(readOnly: Bool = false) throws -> any HubClient {
        let env = ProcessInfo.processInfo.environment
        if let url = server ?? env["YIDANG_SERVER"] {
            guard let token = token ?? env["YIDANG_TOKEN"] else {
                throw CLIError.unauthorized("remote mode needs --token or $YIDANG_TOKEN")
            }
            return try RemoteClient(base: url, token: token)
        }
        return LocalClient(hub: try data.openHub(compacting: !readOnly, readingIfHeld: readOnly))
    }
}
