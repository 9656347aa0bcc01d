import Hummingbird
import JSON
import NIOCore
import YidangModel
import YidangStore
import YidangSync

/// `/healthz`, `/readyz`, `/metrics` (no token), tokens and audit (admin).
struct OperationsRoutes {
    let hub: Hub
    let metrics: HubMetrics
    let tokens: TokenStore
    let audit: AuditTrail
    let subscriptions: SubscriptionStore

    func register(on router: Router<YidangRequestContext>) {
        router.get("/healthz") { _, _ in Reply.json(["status": "ok"]) }
        router.get("/readyz") { _, _ in
            if let failure = hub.store.failure {
                throw Problem(.serviceUnavailable, type: "writer-failed", title: "Service Unavailable", detail: failure)
            }
            let head = try hub.reader.headPosition()
            return Reply.json(["status": "ready", "position": JSONValue(head)])
        }
        router.get("/metrics") { _, _ in
            metrics.gauge("yidang_conflicts_open", Double(try hub.reader.openConflictCount()))
            metrics.gauge("yidang_log_position", Double(try hub.reader.headPosition()))
            let changeHead = try hub.reader.changeHead()
            metrics.gauge("yidang_change_position", Double(changeHead))
            for s in subscriptions.list() {
                metrics.gauge("yidang_subscription_lag", Double(changeHead - min(changeHead, s.cursor)), dimensions: [("subscription", s.id)])
                metrics.gauge("yidang_subscription_paused", s.status == .paused ? 1 : 0, dimensions: [("subscription", s.id)])
            }
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: metrics.registry.emitToBuffer())))
        }
        router.post("/v1/tokens") { request, context in
            let admin = try context.require(.admin)
            var request = request
            let body: JSONValue
            do { body = try JSONParser.parse(Array(try await request.collectBody(upTo: 1 << 16).readableBytesView)) } catch let e as JSONParseError {
                throw Problem.badRequest("malformed-json", "the body is not valid JSON: \(e)", field: "(body)")
            }
            guard let roleText = body["role"]?.stringValue, let role = Role(rawValue: roleText) else {
                throw Problem(.unprocessableContent, type: "invalid-field", title: "Invalid token request",
                              detail: "role must be one of \(Role.allCases.map(\.rawValue).joined(separator: ", "))", field: "role")
            }
            let source = body["source"]?.stringValue
            if role == .publisher {
                guard let source, hub.configuration.departments[source] != nil else {
                    throw Problem(.unprocessableContent, type: "invalid-field", title: "Invalid token request",
                                  detail: "a publisher token needs a configured department as source", field: "source")
                }
            }
            let name = body["name"]?.stringValue ?? "\(role.rawValue)\(source.map { "-" + $0 } ?? "")"
            var clearance: Sensitivity?
            if let c = body["clearance"] {
                guard let level = c.stringValue.flatMap(Sensitivity.init(rawValue:)) else {
                    throw Problem(.unprocessableContent, type: "invalid-field", title: "Invalid token request",
                                  detail: "clearance must be L1, L2, L3 or L4", field: "clearance")
                }
                clearance = level
            }
            try audit.recordOrRefuse(admin, action: "token.create", subject: nil, detail: name, logger: context.logger)
            let token = try tokens.create(role: role, source: source, name: name, clearance: clearance)
            return Reply.json(["token": .string(token), "role": .string(role.rawValue), "source": JSONValue(source), "name": .string(name)],
                              status: .created)
        }
        router.get("/v1/tokens") { _, context in
            _ = try context.require(.admin)
            return Reply.json(["tokens": .array(try tokens.list().map {
                ["name": .string($0.name), "role": .string($0.role.rawValue), "source": JSONValue($0.source)]
            })])
        }
        router.get("/v1/audit") { request, context in
            _ = try context.require(.admin)
            let limit = request.uri.queryParameters.get("limit").flatMap { Int($0) } ?? 100
            return Reply.json(["entries": .array(try audit.recent(limit: min(max(limit, 1), 10_000)))])
        }
    }
}
