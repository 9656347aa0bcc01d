import Hummingbird
import JSON
import NIOCore
import YidangCluster
import YidangModel
import YidangStore
import YidangSync

/// `/healthz`, `/readyz`, `/metrics` (no token), tokens and audit (admin).
struct OperationsRoutes {
    let hub: Hub
    let metrics: HubMetrics
    let tokens: TokenStore
    /// Where token changes go (the replicated log on a cluster node).
    let ledger: any TokenLedger
    /// A cluster node's replica of the log (nil on a single node).
    let replica: ReplicatedLog?
    let audit: AuditTrail
    let subscriptions: SubscriptionStore

    func register(on router: Router<YidangRequestContext>) {
        router.get("/healthz") { _, _ in Reply.json(["status": "ok"]) }
        router.get("/readyz") { _, _ in
            if let failure = hub.store.failure {
                throw Problem(.serviceUnavailable, type: "writer-failed", title: "Service Unavailable", detail: failure)
            }
            let head = try hub.reader.headPosition()
            var body: JSONObject = ["status": "ready", "position": JSONValue(head)]
            if let replica {
                // A node far behind the stream (restarted, or new) is catching up: not ready
                // for traffic that expects current reads.
                let applied = replica.appliedSequence
                let stream = try await replica.streamHead()
                body["log"] = ["node": .string(replica.settings.node), "applied": JSONValue(applied), "stream": JSONValue(stream)]
                if stream > applied + ReplicatedLog.readyLag {
                    throw Problem(.serviceUnavailable, type: "catching-up", title: "Service Unavailable",
                                  detail: "node \(replica.settings.node) has applied entry \(applied) of \(stream)")
                }
            }
            return Reply.json(.object(body))
        }
        router.get("/metrics") { _, _ in
            metrics.sampleProcess()
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
            let body = try await request.jsonBody(upTo: 1 << 16)
            let tokenRequest: TokenRequest
            do { tokenRequest = try TokenRequest(body, configuration: hub.configuration, grantor: admin.clearance) } catch let e as EventRejection {
                throw invalidToken(e.reason, field: e.field)
            }
            try audit.recordOrRefuse(admin, action: "token.create", subject: nil, detail: tokenRequest.name, logger: context.logger)
            let issued = try await ledger.issueToken(tokenRequest)
            var o = issued.info.json().objectValue ?? [:]
            o["token"] = .string(issued.token)
            return Reply.json(.object(o), status: .created)
        }
        router.get("/v1/tokens") { _, context in
            _ = try context.require(.admin)
            return Reply.json(["tokens": .array(try tokens.list().map { $0.json() })])
        }
        router.delete("/v1/tokens/:id") { _, context in
            let admin = try context.require(.admin)
            let id = context.parameters.get("id") ?? ""
            try audit.recordOrRefuse(admin, action: "token.revoke", subject: nil, detail: id, logger: context.logger)
            guard let revoked = try await ledger.revokeToken(id: id) else { throw Problem.notFound("no token \(id)") }
            return Reply.json(revoked.json())
        }
        router.get("/v1/audit") { request, context in
            _ = try context.require(.admin)
            let limit = try request.integerQuery("limit", in: 1...10_000, fallback: 100)
            return Reply.json(["entries": .array(try audit.recent(limit: limit))])
        }
    }
}

/// A token request that cannot be granted as asked.
func invalidToken(_ detail: String, field: String) -> Problem {
    Problem(.unprocessableContent, type: "invalid-field", title: "Invalid token request", detail: detail, field: field)
}
