import Hummingbird
import JSON
import NIOCore
import YidangModel
import YidangProjection
import YidangStore

/// Conflicts and steward decisions: `GET /v1/conflicts`, `GET /v1/conflicts/{id}`,
/// `POST /v1/conflicts/{id}/resolve`, plus `GET /v1/quality`.
struct ConflictRoutes {
    let hub: Hub
    let audit: AuditTrail
    let options: ServerOptions

    func register(on router: Router<YidangRequestContext>) {
        router.get("/v1/conflicts") { request, context in try list(request, context) }
        router.get("/v1/conflicts/:id") { _, context in try show(context) }
        router.post("/v1/conflicts/:id/resolve") { request, context in try await resolve(request, context) }
        router.get("/v1/quality") { _, context in try quality(context) }
    }

    func conflictId(_ context: YidangRequestContext) throws -> UInt64 {
        guard let text = context.parameters.get("id"), let id = UInt64(text) else {
            throw Problem.badRequest("invalid-conflict-id", "a conflict id is a positive integer", field: "id")
        }
        return id
    }

    func list(_ request: Request, _ context: YidangRequestContext) throws -> Response {
        _ = try context.require(.steward)
        var query: [String: String] = [:]
        for name in ["status", "kind", "attribute", "source", "limit"] { query[name] = request.uri.queryParameters.get(name).map { String($0) } }
        let f: ConflictFilter
        do { f = try ConflictFilter(query: query) } catch { throw Problem.badRequest("invalid-query", error.description, field: error.field) }
        let list = try hub.reader.conflicts(f)
        return Reply.json(["conflicts": .array(list.map { $0.json(configuration: hub.configuration) }), "count": JSONValue(list.count)])
    }

    func show(_ context: YidangRequestContext) throws -> Response {
        _ = try context.require(.steward)
        let id = try conflictId(context)
        guard let c = try hub.reader.conflict(id: id) else { throw Problem.notFound("no conflict \(id)") }
        return Reply.json(c.json(configuration: hub.configuration))
    }

    func resolve(_ request: Request, _ context: YidangRequestContext) async throws -> Response {
        let steward = try context.require(.steward)
        let id = try conflictId(context)
        var request = request
        let body = try await request.jsonBody(upTo: 1 << 20)
        guard case .object(let o) = body else { throw Problem.badRequest("invalid-body", "the body must be a JSON object", field: "(body)") }
        guard let actionText = o["action"]?.stringValue, let action = StewardDecision.Action(rawValue: actionText) else {
            throw Problem(.unprocessableContent, type: "invalid-field", title: "Invalid decision",
                          detail: "action must be accept, pin or reject", field: "action")
        }
        let value: String?
        switch o["value"] {
        case .string(let s)?: value = s
        case .number(let n)?: value = n
        case nil, .null?: value = nil
        default: throw Problem(.unprocessableContent, type: "invalid-field", title: "Invalid decision", detail: "value must be a string or number", field: "value")
        }
        let force: Bool
        switch o["force"] {
        case .bool(let b)?: force = b
        case nil, .null?: force = false
        default: throw Problem(.unprocessableContent, type: "invalid-field", title: "Invalid decision", detail: "force must be true or false", field: "force")
        }
        var text: [String: String] = [:]
        for name in ["source", "note"] {
            switch o[name] {
            case .string(let t)?: text[name] = t
            case nil, .null?: break
            default: throw Problem(.unprocessableContent, type: "invalid-field", title: "Invalid decision", detail: "\(name) must be a string", field: name)
            }
        }
        try audit.recordOrRefuse(steward, action: "resolve:\(action.rawValue)", subject: try hub.reader.conflict(id: id)?.subject.description,
                                 detail: "conflict \(id)", logger: context.logger)
        let settled: Conflict
        do {
            settled = try await hub.settle(conflict: id, action: action, value: value, source: text["source"],
                                           steward: steward.name, note: text["note"], force: force)
        } catch SettleError.notFound(let id) {
            throw Problem.notFound("no conflict \(id)")
        } catch SettleError.notOpen(let id) {
            throw Problem(.conflict, type: "conflict-not-open", title: "Conflict already resolved", detail: "conflict \(id) is already resolved")
        } catch SettleError.invalid(let r) {
            throw Problem(.unprocessableContent, type: r.code.rawValue, title: "Invalid decision", detail: r.description, field: r.field)
        }
        return Reply.json(settled.json(configuration: hub.configuration))
    }

    func quality(_ context: YidangRequestContext) throws -> Response {
        _ = try context.require(.steward)
        let q = try hub.reader.quality()
        return Reply.json(["departments": .array(q.map { $0.json(configuration: hub.configuration) })])
    }
}
