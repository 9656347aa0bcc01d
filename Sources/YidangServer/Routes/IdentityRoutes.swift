import Hummingbird
import JSON
import YidangModel
import YidangProjection
import YidangStore

/// Identity resolution for stewards: the review queue (`GET /v1/matches`, `GET
/// /v1/matches/{id}`, `POST /v1/matches/{id}/confirm|reject`), merges and unmerges
/// (`POST /v1/merges`, `POST /v1/unmerges`), and crosswalks (`GET /v1/crosswalks`; readers may
/// look one up by source and key).
struct IdentityRoutes {
    let hub: Hub
    let audit: AuditTrail

    func register(on router: Router<YidangRequestContext>) {
        router.get("/v1/matches") { request, context in try list(request, context) }
        router.get("/v1/matches/:id") { _, context in try show(context) }
        router.post("/v1/matches/:id/confirm") { request, context in try await decide(request, context, confirm: true) }
        router.post("/v1/matches/:id/reject") { request, context in try await decide(request, context, confirm: false) }
        router.post("/v1/merges") { request, context in try await merge(request, context) }
        router.post("/v1/unmerges") { request, context in try await unmerge(request, context) }
        router.get("/v1/crosswalks") { request, context in try crosswalks(request, context) }
    }

    static func kind(_ request: Request) throws -> EntityKind? {
        guard let text = request.uri.queryParameters.get("kind") else { return nil }
        guard let kind = EntityKind(rawValue: String(text)) else {
            throw Problem.badRequest("invalid-query", "kind must be person or enterprise, got \"\(text)\"", field: "kind")
        }
        return kind
    }

    func taskId(_ context: YidangRequestContext) throws -> UInt64 {
        guard let text = context.parameters.get("id"), let id = UInt64(text), id > 0 else {
            throw Problem.badRequest("invalid-match-id", "a review task id is a positive integer", field: "id")
        }
        return id
    }

    func list(_ request: Request, _ context: YidangRequestContext) throws -> Response {
        _ = try context.require(.steward)
        var status: MatchTask.Status? = .open
        if let text = request.uri.queryParameters.get("status") {
            if text == "all" { status = nil } else {
                guard let s = MatchTask.Status(rawValue: String(text)) else {
                    throw Problem.badRequest("invalid-query", "status must be open, confirmed, rejected or all, got \"\(text)\"", field: "status")
                }
                status = s
            }
        }
        let limit = try request.integerQuery("limit", in: 1...100_000, fallback: 1000)
        let tasks = try hub.reader.matchTasks(status: status, kind: try Self.kind(request), limit: limit)
        return Reply.json(["matches": .array(tasks.map { .object($0.json) }), "count": JSONValue(tasks.count)])
    }

    func show(_ context: YidangRequestContext) throws -> Response {
        let steward = try context.require(.steward)
        let id = try taskId(context)
        guard let task = try hub.reader.matchTask(id) else { throw Problem.notFound("no review task \(id)") }
        try audit.recordOrRefuse(steward, action: "read", subject: task.record.description, detail: "review task \(id)", logger: context.logger)
        return Reply.json(try hub.reader.matchDetail(task, model: hub.matchModel(task.kind)))
    }

    /// `{"note"}`, optional, a string.
    static func note(_ o: JSONObject) throws -> String? {
        switch o["note"] {
        case .string(let t)?: return t
        case nil, .null?: return nil
        default: throw Problem(.unprocessableContent, type: "invalid-field", title: "Invalid decision", detail: "note must be a string", field: "note")
        }
    }

    /// The body as a JSON object; an empty body is an empty object (a decision without a note).
    static func object(_ request: Request) async throws -> JSONObject {
        var request = request
        let bytes = Array(try await request.collectBody(upTo: 1 << 16).readableBytesView)
        if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) { return [:] }
        let body: JSONValue
        do { body = try JSONParser.parse(bytes) } catch {
            throw Problem.badRequest("malformed-json", "the body is not valid JSON: \(error)", field: "(body)")
        }
        guard case .object(let o) = body else { throw Problem.badRequest("invalid-body", "the body must be a JSON object", field: "(body)") }
        return o
    }

    static func problem(_ error: IdentityError) -> Problem {
        switch error {
        case .notFound(let what): return Problem.notFound("no \(what)")
        case .invalid(let r): return Problem(.unprocessableContent, type: r.code.rawValue, title: "Invalid decision", detail: r.description, field: r.field)
        }
    }

    func decide(_ request: Request, _ context: YidangRequestContext, confirm: Bool) async throws -> Response {
        let steward = try context.require(.steward)
        let id = try taskId(context)
        let note = try Self.note(try await Self.object(request))
        guard let task = try hub.reader.matchTask(id) else { throw Problem.notFound("no review task \(id)") }
        guard task.status == .open else {
            throw Problem(.conflict, type: "match-not-open", title: "Review task already decided", detail: "review task \(id) is already \(task.status.rawValue)")
        }
        try audit.recordOrRefuse(steward, action: confirm ? "match:confirm" : "match:reject", subject: task.record.description,
                                 detail: "review task \(id)", logger: context.logger)
        do {
            let after = confirm ? try await hub.confirmMatch(id, steward: steward.name, note: note)
                                : try await hub.rejectMatch(id, steward: steward.name, note: note)
            var o = after.json
            if confirm { o["survivor"] = .string(try hub.reader.survivor(of: after.record).description) }
            return Reply.json(.object(o))
        } catch let e as IdentityError { throw Self.problem(e) }
    }

    func subject(_ o: JSONObject, _ field: String) throws -> Subject {
        guard case .string(let text)? = o[field] else {
            throw Problem(.unprocessableContent, type: "missing-field", title: "Invalid merge", detail: "\(field) is required: a subject such as person/YD0000000042", field: field)
        }
        do { return try Subject(reference: text, field: field) } catch {
            throw Problem(.unprocessableContent, type: error.code.rawValue, title: "Invalid merge", detail: error.description, field: field)
        }
    }

    func merge(_ request: Request, _ context: YidangRequestContext) async throws -> Response {
        let steward = try context.require(.steward)
        let o = try await Self.object(request)
        let from = try subject(o, "from"), into = try subject(o, "into")
        guard from.kind == into.kind else {
            throw Problem(.unprocessableContent, type: "invalid-subject", title: "Invalid merge", detail: "from is a \(from.kind.rawValue), into a \(into.kind.rawValue)", field: "into")
        }
        let note = try Self.note(o)
        try audit.recordOrRefuse(steward, action: "merge", subject: into.description, detail: "from \(from)", logger: context.logger)
        do {
            let survivor = try await hub.merge(from, into: into, steward: steward.name, note: note)
            let absorbed = survivor == into ? from : into
            return Reply.json(["survivor": .string(survivor.description), "absorbed": .string(absorbed.description)])
        } catch let e as IdentityError { throw Self.problem(e) }
    }

    func unmerge(_ request: Request, _ context: YidangRequestContext) async throws -> Response {
        let steward = try context.require(.steward)
        let o = try await Self.object(request)
        var text: [String: String] = [:]
        for field in ["source", "key"] {
            guard case .string(let t)? = o[field], !t.isEmpty else {
                throw Problem(.unprocessableContent, type: "missing-field", title: "Invalid unmerge", detail: "\(field) is required", field: field)
            }
            text[field] = t
        }
        var kind = EntityKind.person
        if let k = o["kind"] {
            guard case .string(let t) = k, let parsed = EntityKind(rawValue: t) else {
                throw Problem(.unprocessableContent, type: "invalid-field", title: "Invalid unmerge", detail: "kind must be person or enterprise", field: "kind")
            }
            kind = parsed
        }
        let source = text["source"]!, key = text["key"]!
        guard hub.configuration.departments[source] != nil else {
            throw Problem(.unprocessableContent, type: "unknown-source", title: "Invalid unmerge", detail: "\"\(source)\" is not a configured department code", field: "source")
        }
        do { try Subject.checkLocalKey(Substring(key), field: "key") } catch {
            throw Problem(.unprocessableContent, type: error.code.rawValue, title: "Invalid unmerge", detail: error.description, field: "key")
        }
        let note = try Self.note(o)
        let crosswalk = Crosswalk(kind: kind, source: source, key: key)
        try audit.recordOrRefuse(steward, action: "unmerge", subject: try hub.reader.survivor(of: crosswalk.subject).description,
                                 detail: "\(source) \(key)", logger: context.logger)
        do {
            let fresh = try await hub.unmerge(crosswalk, steward: steward.name, note: note)
            return Reply.json(["source": .string(source), "key": .string(key), "subject": .string(fresh.description)])
        } catch let e as IdentityError { throw Self.problem(e) }
    }

    func crosswalks(_ request: Request, _ context: YidangRequestContext) throws -> Response {
        let source = request.uri.queryParameters.get("source").map { String($0) }
        let key = request.uri.queryParameters.get("key").map { String($0) }
        // A reader may look one record up by its key; listing them is a steward's.
        if source != nil && key != nil { _ = try context.require(.reader, .steward) } else { _ = try context.require(.steward) }
        if key != nil && source == nil { throw Problem.badRequest("invalid-query", "key needs source", field: "source") }
        if let source, hub.configuration.departments[source] == nil {
            throw Problem.badRequest("invalid-query", "\"\(source)\" is not a configured department code", field: "source")
        }
        if let key { do { try Subject.checkLocalKey(Substring(key), field: "key") } catch { throw Problem.badRequest("invalid-query", error.reason, field: "key") } }
        let limit = try request.integerQuery("limit", in: 1...1_000_000, fallback: 100_000)
        let kinds = try Self.kind(request).map { [$0] } ?? EntityKind.allCases
        var all: [CrosswalkEntry] = []
        for kind in kinds { all += try hub.reader.crosswalks(kind: kind, source: source, key: key, limit: limit) }
        return Reply.json(["crosswalks": .array(all.prefix(limit).map(\.json)), "count": JSONValue(min(all.count, limit))])
    }
}
