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

    func matches(query: [String: String]) async throws -> [JSONValue] {
        var status: MatchTask.Status? = .open
        if let s = query["status"], s != "all" {
            guard let parsed = MatchTask.Status(rawValue: s) else { throw CLIError.failure("--status: expected open, confirmed, rejected or all, got \(s)") }
            status = parsed
        } else if query["status"] == "all" { status = nil }
        var kind: EntityKind?
        if let k = query["kind"] {
            guard let parsed = EntityKind(rawValue: k) else { throw CLIError.failure("--kind: expected person or enterprise, got \(k)") }
            kind = parsed
        }
        return try hub.reader.matchTasks(status: status, kind: kind, limit: Int(query["limit"] ?? "") ?? 1000).map { .object($0.json) }
    }

    func match(id: UInt64) async throws -> JSONValue {
        guard let t = try hub.reader.matchTask(id) else { throw CLIError.notFound("no review task \(id)") }
        return try hub.reader.matchDetail(t, model: hub.matchModel(t.kind))
    }

    var localSteward: String { ProcessInfo.processInfo.environment["USER"] ?? "steward" }

    /// Runs a steward's identity decision, mapping refusals to one-line errors.
    func identity<T>(_ body: () async throws -> T) async throws -> T {
        do { return try await body() } catch let e as IdentityError {
            if case .notFound = e { throw CLIError.notFound("no \(e.description.replacingOccurrences(of: " not found", with: ""))") }
            throw CLIError.failure(e.description)
        }
    }

    func decideMatch(id: UInt64, confirm: Bool, note: String?, steward: String?) async throws -> JSONValue {
        try await identity {
            guard let t = try hub.reader.matchTask(id) else { throw CLIError.notFound("no review task \(id)") }
            guard t.status == .open else { throw CLIError.failure("review task \(id) is already \(t.status.rawValue)") }
            let after = confirm ? try await hub.confirmMatch(id, steward: steward ?? localSteward, note: note)
                                : try await hub.rejectMatch(id, steward: steward ?? localSteward, note: note)
            var o = after.json
            if confirm { o["survivor"] = .string(try hub.reader.survivor(of: after.record).description) }
            return .object(o)
        }
    }

    func merge(from: String, into: String, note: String?, steward: String?) async throws -> JSONValue {
        let a: Subject, b: Subject
        do { a = try Subject(reference: from, field: "from"); b = try Subject(reference: into, field: "into") } catch { throw CLIError.failure(error.description) }
        return try await identity {
            let survivor = try await hub.merge(a, into: b, steward: steward ?? localSteward, note: note)
            return ["survivor": .string(survivor.description), "absorbed": .string((survivor == b ? a : b).description)]
        }
    }

    func unmerge(source: String, key: String, kind: String, note: String?, steward: String?) async throws -> JSONValue {
        guard let k = EntityKind(rawValue: kind) else { throw CLIError.failure("--kind: expected person or enterprise, got \(kind)") }
        guard hub.configuration.departments[source] != nil else { throw CLIError.failure("--source: \"\(source)\" is not a configured department code") }
        do { try Subject.checkLocalKey(Substring(key), field: "--key") } catch { throw CLIError.failure(error.description) }
        return try await identity {
            let fresh = try await hub.unmerge(Crosswalk(kind: k, source: source, key: key), steward: steward ?? localSteward, note: note)
            return ["source": .string(source), "key": .string(key), "subject": .string(fresh.description)]
        }
    }

    func crosswalks(query: [String: String]) async throws -> [JSONValue] {
        if let source = query["source"], hub.configuration.departments[source] == nil {
            throw CLIError.failure("--source: \"\(source)\" is not a configured department code")
        }
        var kinds = EntityKind.allCases
        if let k = query["kind"] {
            guard let parsed = EntityKind(rawValue: k) else { throw CLIError.failure("--kind: expected person or enterprise, got \(k)") }
            kinds = [parsed]
        }
        var out: [JSONValue] = []
        for kind in kinds { out += try hub.reader.crosswalks(kind: kind, source: query["source"], key: query["key"]).map(\.json) }
        return out
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
            let s = try await SubscriptionStore(hub: hub)
                .create(request: body, owner: ProcessInfo.processInfo.environment["USER"] ?? "local", ownerDepartment: body["department"]?.stringValue,
                        maxClearance: .L4, head: try hub.reader.changeHead())
            var o = s.json().objectValue ?? JSONObject()
            if let secret = s.webhook?.secret { o["secret"] = .string(secret) }
            return .object(o)
        } catch let e as SubscriptionError { throw CLIError.failure(e.description) }
    }

    func deleteSubscription(id: String) async throws {
        guard try await SubscriptionStore(hub: hub).delete(id) else {
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
