import Foundation
import JSON
import YidangModel
import YidangProjection
import YidangStore
import YidangSync

/// The hub's data directory, opened in this process.
struct LocalClient: HubClient {
    let hub: Hub

    func subject(kind: EntityKind, id: String) throws -> Subject {
        do { return try hub.validator.parseIdentifier(id, kind: kind, field: kind.traits.identifierField) } catch {
            throw CLIError.failure(error.description)
        }
    }

    func record(kind: String, id: String, asOf: String?, knownAt: String?, lineage: Bool) async throws -> JSONValue {
        let s = try subject(kind: EntityKind(rawValue: kind) ?? .person, id: id)
        let record = try hub.reader.goldenRecord(of: s, asOf: try parseTime(asOf, "--as-of"), knownAt: try parseTime(knownAt, "--known-at"),
                                                 lineage: lineage)
        guard let record else { throw CLIError.notFound("no record for \(s)") }
        return record
    }

    func history(subject text: String) async throws -> JSONValue {
        let s: Subject
        do { s = try Subject(reference: text) } catch { throw CLIError.failure(error.description) }
        let events = try hub.reader.recordHistory(of: try hub.reader.survivor(of: s))
        guard !events.isEmpty else { throw CLIError.notFound("no events for \(s)") }
        return ["subject": .string(s.description), "events": .array(events.map { .object($0.cloudEvent) })]
    }

    func conflicts(query: [String: String]) async throws -> [JSONValue] {
        let f: ConflictFilter
        do { f = try ConflictFilter(query: query) } catch { throw CLIError.failure("--\(error.description)") }
        return try hub.reader.conflicts(f).map { $0.json(configuration: hub.configuration) }
    }

    func conflict(id: UInt64) async throws -> JSONValue {
        guard let c = try hub.reader.conflict(id: id) else { throw CLIError.notFound("no conflict \(id)") }
        return c.json(configuration: hub.configuration)
    }

    func resolve(id: UInt64, action: String, value: String?, source: String?, note: String?, steward: String?, force: Bool) async throws -> JSONValue {
        guard let a = StewardDecision.Action(rawValue: action) else { throw CLIError.failure("unknown action \(action)") }
        do {
            let settled = try await hub.settle(conflict: id, action: a, value: value, source: source,
                                               steward: steward ?? ProcessInfo.processInfo.environment["USER"] ?? "steward", note: note, force: force)
            return settled.json(configuration: hub.configuration)
        } catch let e as SettleError {
            if case .notFound = e { throw CLIError.notFound(e.description) }
            throw CLIError.failure(e.description)
        }
    }

    func changes(subscription: String?, after: UInt64?, limit: Int, wait: Int) async throws -> JSONValue {
        let from = after ?? 0
        if let subscription {
            let store = try SubscriptionStore(hub: hub)
            guard let s = store.get(subscription) else { throw CLIError.notFound("no subscription \(subscription)") }
            // The same reader as the server's deliveries (no waiting here: local reads are pages).
            let feed = ChangeFeedReader(reader: hub.reader, subscriptions: store, signal: ChangeFeedSignal(head: try hub.reader.changeHead()))
            let (items, next) = try feed.page(for: s, after: after ?? s.cursor, limit: limit)
            return ["subscription": .string(s.id), "changes": .array(items), "next": JSONValue(next)]
        }
        let list = try hub.reader.changes(after: from, limit: limit)
        return ["changes": .array(list.map { $0.json(configuration: hub.configuration) }), "next": JSONValue(list.last?.position ?? from)]
    }

    func quality() async throws -> [JSONValue] {
        try hub.reader.quality().map { $0.json(configuration: hub.configuration) }
    }

    func subscriptions() async throws -> [JSONValue] {
        try SubscriptionStore(hub: hub).list().map { $0.json() }
    }

    func subscription(id: String) async throws -> JSONValue {
        guard let s = try SubscriptionStore(hub: hub).get(id) else {
            throw CLIError.notFound("no subscription \(id)")
        }
        return s.json()
    }

    func createSubscription(_ body: JSONValue) async throws -> JSONValue {
        do {
            let s = try SubscriptionStore(hub: hub)
                .create(request: body, owner: ProcessInfo.processInfo.environment["USER"] ?? "local", ownerDepartment: body["department"]?.stringValue,
                        maxClearance: .L4, head: try hub.reader.changeHead())
            var o = s.json().objectValue ?? JSONObject()
            if let secret = s.webhook?.secret { o["secret"] = .string(secret) }
            return .object(o)
        } catch let e as SubscriptionError { throw CLIError.failure(e.description) }
    }

    func deleteSubscription(id: String) async throws {
        guard try SubscriptionStore(hub: hub).delete(id) else {
            throw CLIError.notFound("no subscription \(id)")
        }
    }

    /// The operator running a local command, as the audit trail names them.
    static var localOperator: Principal {
        Principal(name: ProcessInfo.processInfo.environment["USER"] ?? "local", role: .admin, source: nil)
    }

    func verifyClaims(_ body: JSONValue) async throws -> JSONValue {
        let verifier = ClaimVerifier(reader: hub.reader)
        let claims: ClaimSet
        do { claims = try verifier.parse(body, clearance: .L4, allowed: nil) } catch { throw CLIError.failure(error.description) }
        let answer = try verifier.verify(claims)
        let op = Self.localOperator
        // Audited before it is shown, as the server does.
        try AuditTrail(database: hub.database).record(caller: op.name, role: op.role, action: "verify", subject: claims.subject.description,
                                                      detail: answer.summary)
        return answer.json()
    }

    func tokens() async throws -> [JSONValue] { try TokenStore(database: hub.database).list().map { $0.json() } }

    func createToken(_ body: JSONValue) async throws -> JSONValue {
        let request: TokenRequest
        do { request = try TokenRequest(body, configuration: hub.configuration) } catch { throw CLIError.failure("--\(error.description)") }
        let op = Self.localOperator
        try AuditTrail(database: hub.database).record(caller: op.name, role: op.role, action: "token.create", subject: nil, detail: request.name)
        let issued = try TokenStore(database: hub.database).issue(request)
        var o = issued.info.json().objectValue ?? [:]
        o["token"] = .string(issued.token)
        return .object(o)
    }

    func revokeToken(id: String) async throws -> JSONValue {
        let op = Self.localOperator
        try AuditTrail(database: hub.database).record(caller: op.name, role: op.role, action: "token.revoke", subject: nil, detail: id)
        guard let revoked = try TokenStore(database: hub.database).revoke(id: id) else { throw CLIError.notFound("no token \(id)") }
        return revoked.json()
    }

    func audit(limit: Int) async throws -> [JSONValue] { try AuditTrail(database: hub.database).recent(limit: limit) }

    func close() async {
        await hub.store.releaseCaches()
        hub.close()
    }
}
