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
        do { return try hub.validator.parseIdentifier(id, kind: kind, field: kind == .person ? "id" : "uscc") } catch {
            throw CLIError.failure(error.description)
        }
    }

    func record(kind: String, id: String, asOf: String?, knownAt: String?, lineage: Bool) async throws -> JSONValue {
        let s = try subject(kind: EntityKind(rawValue: kind) ?? .person, id: id)
        let a = try parseTime(asOf, "--as-of"), k = try parseTime(knownAt, "--known-at")
        let state = (a != nil || k != nil) ? try hub.reader.state(of: s, asOf: a ?? Int64.max, knownAt: k) : try hub.reader.state(of: s)
        guard let state else { throw CLIError.notFound("no record for \(s)") }
        let links = (a != nil || k != nil) ? [] : try hub.reader.links(of: s)
        return state.goldenRecordJSON(configuration: hub.configuration, lineage: lineage, links: links)
    }

    func history(subject text: String) async throws -> JSONValue {
        let s: Subject
        do {
            if text.contains("/") { s = try hub.validator.parseSubject(text, field: "subject") }
            else if let p = try? hub.validator.parseIdentifier(text, kind: .person, field: "subject") { s = p }
            else { s = try hub.validator.parseIdentifier(text, kind: .enterprise, field: "subject") }
        } catch { throw CLIError.failure(error.description) }
        let events = try hub.reader.history(of: s)
        guard !events.isEmpty else { throw CLIError.notFound("no events for \(s)") }
        return ["subject": .string(s.description), "events": .array(events.map { .object($0.cloudEvent) })]
    }

    func conflicts(query: [String: String]) async throws -> [JSONValue] {
        var f = ConflictFilter()
        if let s = query["status"] {
            guard let st = ConflictFilter.Status(rawValue: s) else { throw CLIError.failure("--status: expected open, resolved or all, got \(s)") }
            f.status = st
        }
        if let k = query["kind"] {
            guard let kind = EntityKind(rawValue: k) else { throw CLIError.failure("--kind: expected person or enterprise, got \(k)") }
            f.kind = kind
        }
        f.attribute = query["attribute"]
        f.source = query["source"]
        f.limit = query["limit"].flatMap { Int($0) } ?? 1000
        return try hub.reader.conflicts(f).map { $0.json(configuration: hub.configuration) }
    }

    func conflict(id: UInt64) async throws -> JSONValue {
        guard let c = try hub.reader.conflict(id: id) else { throw CLIError.notFound("no conflict \(id)") }
        return c.json(configuration: hub.configuration)
    }

    func resolve(id: UInt64, action: String, value: String?, source: String?, note: String?, steward: String?) async throws -> JSONValue {
        guard let c = try hub.reader.conflict(id: id) else { throw CLIError.notFound("no conflict \(id)") }
        guard let a = StewardDecision.Action(rawValue: action) else { throw CLIError.failure("unknown action \(action)") }
        let name = steward ?? ProcessInfo.processInfo.environment["USER"] ?? "steward"
        let event: Event
        do {
            event = try Steward.decision(conflict: c, action: a, value: value, source: source, steward: name, note: note,
                                         configuration: hub.configuration, now: EventStore.now())
        } catch let e as EventRejection { throw CLIError.failure(e.description) }
        if case .rejected(let r)? = try await hub.store.append([event]).first { throw CLIError.failure(r.description) }
        return try await conflict(id: id)
    }

    func changes(subscription: String?, after: UInt64?, limit: Int, wait: Int) async throws -> JSONValue {
        let from = after ?? 0
        if let subscription {
            let store = try SubscriptionStore(database: hub.database, configuration: hub.configuration)
            guard let s = store.get(subscription) else { throw CLIError.notFound("no subscription \(subscription)") }
            let (items, next) = try ChangeView(configuration: hub.configuration).page(hub.reader, for: s, after: after ?? s.cursor, limit: limit)
            return ["subscription": .string(s.id), "changes": .array(items), "next": JSONValue(next)]
        }
        let list = try hub.reader.changes(after: from, limit: limit)
        return ["changes": .array(list.map { $0.json(configuration: hub.configuration) }), "next": JSONValue(list.last?.position ?? from)]
    }

    func quality() async throws -> [JSONValue] {
        try hub.reader.quality().map { $0.json(configuration: hub.configuration) }
    }

    func subscriptions() async throws -> [JSONValue] {
        try SubscriptionStore(database: hub.database, configuration: hub.configuration).list().map { $0.json() }
    }

    func subscription(id: String) async throws -> JSONValue {
        guard let s = try SubscriptionStore(database: hub.database, configuration: hub.configuration).get(id) else {
            throw CLIError.notFound("no subscription \(id)")
        }
        return s.json()
    }

    func createSubscription(_ body: JSONValue) async throws -> JSONValue {
        do {
            let s = try SubscriptionStore(database: hub.database, configuration: hub.configuration)
                .create(request: body, owner: ProcessInfo.processInfo.environment["USER"] ?? "local", ownerDepartment: body["department"]?.stringValue,
                        maxClearance: .L4, head: try hub.reader.changeHead())
            var o = s.json().objectValue ?? JSONObject()
            if let secret = s.webhook?.secret { o["secret"] = .string(secret) }
            return .object(o)
        } catch let e as SubscriptionError { throw CLIError.failure(e.description) }
    }

    func deleteSubscription(id: String) async throws {
        guard try SubscriptionStore(database: hub.database, configuration: hub.configuration).delete(id) else {
            throw CLIError.notFound("no subscription \(id)")
        }
    }

    func close() async { hub.close() }
}
