import Hummingbird
import JSON
import YidangModel
import YidangStore

/// `POST /v1/verify`: verification without disclosure (可用不可见). Every answer is
/// audited before it is given; a verifier token is rate-limited by claims a minute; a burst
/// of mismatches on one subject is flagged in the audit trail.
struct VerificationRoutes {
    let hub: Hub
    let audit: AuditTrail
    let metrics: HubMetrics
    let limiter: ClaimRateLimiter
    let watch: MismatchWatch

    init(hub: Hub, audit: AuditTrail, metrics: HubMetrics) {
        self.hub = hub; self.audit = audit; self.metrics = metrics
        let limits = hub.configuration.verificationLimits
        limiter = ClaimRateLimiter(perMinute: limits.claimsPerMinute)
        watch = MismatchWatch(threshold: limits.mismatchAlert, windowMinutes: limits.alertWindowMinutes)
    }

    func register(on router: Router<YidangRequestContext>) {
        router.post("/v1/verify") { request, context in try await verify(request, context) }
    }

    func verify(_ request: Request, _ context: YidangRequestContext) async throws -> Response {
        let caller = try context.require(.verifier)
        var request = request
        let body = try await request.jsonBody(upTo: 1 << 16)
        let verifier = ClaimVerifier(reader: hub.reader)
        let claims: ClaimSet
        do { claims = try verifier.parse(body, clearance: caller.clearance, allowed: caller.attributes) } catch {
            switch error.kind {
            case .invalid: throw Problem.badRequest("invalid-claim", error.description, field: error.field)
            case .forbidden: throw Problem(.forbidden, type: "claim-forbidden", title: "Forbidden", detail: error.description, field: error.field)
            }
        }
        let now = Timestamp.now()
        if caller.role == .verifier {
            let perMinute = limiter.perMinute
            guard claims.claims.count <= perMinute else {
                throw Problem.badRequest("invalid-claim", "claims: \(claims.claims.count) claims, more than this token may check in a minute (\(perMinute))",
                                         field: "claims")
            }
            if let wait = limiter.take(caller.tokenId, cost: claims.claims.count, now: now) {
                metrics.verificationRefused()
                var p = Problem(.tooManyRequests, type: "rate-limited", title: "Too Many Requests",
                                detail: "this token may check \(perMinute) claims a minute; retry in \(wait) s")
                p.headers[.retryAfter] = String(wait)
                throw p
            }
        }
        let answer = try verifier.verify(claims, now: now)
        let reply = answer.json()
        try audit.recordOrRefuse(caller, action: "verify", subject: claims.subject.description, detail: answer.summary,
                                 extra: ["results": reply["result"] ?? .null], logger: context.logger)
        for r in answer.results { metrics.verification(result: r.result.rawValue) }
        if answer.mismatches > 0, let callers = watch.note(subject: claims.subject.description, caller: caller.name, now: now) {
            let limits = hub.configuration.verificationLimits
            metrics.verificationAlert()
            context.logger.warning("verification alert: \(limits.mismatchAlert) verifications with mismatches on one subject within \(limits.alertWindowMinutes) min")
            try audit.recordOrRefuse(caller, action: "verify.alert", subject: claims.subject.description,
                                     detail: "\(limits.mismatchAlert) verifications with a mismatch within \(limits.alertWindowMinutes) minutes; callers: \(callers.joined(separator: ", "))",
                                     extra: ["callers": .array(callers.map { .string($0) })], logger: context.logger)
        }
        return Reply.json(reply)
    }
}
