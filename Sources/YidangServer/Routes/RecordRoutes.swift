import Hummingbird
import JSON
import YidangModel
import YidangProjection
import YidangStore

/// Golden records and history: `GET /v1/persons/{id}`, `/v1/enterprises/{uscc}`, `…/history`.
struct RecordRoutes {
    let hub: Hub
    let audit: AuditTrail

    func register(on router: Router<YidangRequestContext>) {
        router.get("/v1/persons/:id") { request, context in try record(.person, request, context) }
        router.get("/v1/enterprises/:id") { request, context in try record(.enterprise, request, context) }
        router.get("/v1/persons/:id/history") { request, context in try history(.person, request, context) }
        router.get("/v1/enterprises/:id/history") { request, context in try history(.enterprise, request, context) }
    }

    func subject(_ kind: EntityKind, _ context: YidangRequestContext) throws -> Subject {
        let raw = context.parameters.get("id") ?? ""
        do { return try hub.validator.parseIdentifier(raw.removingPercentEncoding ?? raw, kind: kind, field: "id") } catch {
            throw Problem.badRequest("invalid-identifier", error.reason, field: kind.traits.identifierField)
        }
    }

    static func time(_ request: Request, _ name: String) throws -> Int64? {
        guard let text = request.uri.queryParameters.get(name) else { return nil }
        guard let t = Timestamp.parse(text) else {
            throw Problem.badRequest("invalid-time", "\(name) must be an RFC 3339 time such as 2026-11-20T08:00:00+08:00, got \"\(text)\"", field: name)
        }
        return t
    }

    func record(_ kind: EntityKind, _ request: Request, _ context: YidangRequestContext) throws -> Response {
        let caller = try context.require(.reader, .steward)
        let subject = try subject(kind, context)
        let asOf = try Self.time(request, "asOf"), knownAt = try Self.time(request, "knownAt")
        let lineage = try request.booleanQuery("lineage")
        if kind.traits.isPersonalData { try audit.recordOrRefuse(caller, action: "read", subject: subject.description, logger: context.logger) }
        let record = try hub.reader.goldenRecord(of: subject, asOf: asOf, knownAt: knownAt, lineage: lineage)
        guard let record else { throw Problem.notFound("no record for \(subject)") }
        return Reply.json(record)
    }

    func history(_ kind: EntityKind, _ request: Request, _ context: YidangRequestContext) throws -> Response {
        let caller = try context.require(.reader, .steward)
        let subject = try subject(kind, context)
        if kind.traits.isPersonalData { try audit.recordOrRefuse(caller, action: "history", subject: subject.description, logger: context.logger) }
        let events = try hub.reader.recordHistory(of: try hub.reader.survivor(of: subject))
        guard !events.isEmpty else { throw Problem.notFound("no events for \(subject)") }
        return Reply.json(["subject": .string(subject.description), "events": .array(events.map { .object($0.cloudEvent) })])
    }
}

extension Error {
    /// The reason of an ``EventRejection``, else the description.
    var reason: String { (self as? EventRejection)?.reason ?? "\(self)" }
}
