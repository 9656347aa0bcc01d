import Hummingbird
import YidangStore

/// Authenticates `Authorization: Bearer <token>` for every route under `/v1`.
/// 401 without a valid token; role checks happen in the routes (403).
struct AuthMiddleware: RouterMiddleware {
    typealias Context = YidangRequestContext
    let tokens: TokenStore
    let clock: @Sendable () -> Int64
    /// On a cluster node: waits (bounded) until the node has applied what the stream holds,
    /// so that a token issued through another node a moment ago is not refused here.
    var catchUp: (@Sendable () async -> Void)? = nil

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.uri.path.hasPrefix("/v1/") || request.uri.path == "/v1" else { return try await next(request, context) }
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer ") else {
            throw Problem(.unauthorized, type: "unauthorized", title: "Unauthorized", detail: "send Authorization: Bearer <token>")
        }
        let token = String(header.dropFirst(7).trimmingOptionalWhitespace())
        var found = try tokens.authenticate(token, now: clock())
        if found == nil, let catchUp {
            await catchUp()
            found = try tokens.authenticate(token, now: clock())
        }
        guard let principal = found else {
            throw Problem(.unauthorized, type: "unauthorized", title: "Unauthorized", detail: "the token is not valid")
        }
        do { try tokens.noteUse(principal, now: clock()) } catch {
            // Only the lastUsed shown by GET /v1/tokens is stale; the request itself is fine.
            context.logger.warning("could not record the use of token \(principal.tokenId): \(error)")
        }
        var context = context
        context.principal = principal
        return try await next(request, context)
    }
}

extension YidangRequestContext {
    /// The caller, if their role is one of `roles` (admin always is).
    /// - Throws: a 403 ``Problem`` naming the roles allowed.
    func require(_ roles: Role...) throws -> Principal {
        guard let p = principal else {
            throw Problem(.unauthorized, type: "unauthorized", title: "Unauthorized", detail: "send Authorization: Bearer <token>")
        }
        guard p.role == .admin || roles.contains(p.role) else {
            throw Problem(.forbidden, type: "forbidden", title: "Forbidden",
                          detail: "role \(p.role.rawValue) may not do this; needs \(roles.map(\.rawValue).joined(separator: " or "))")
        }
        return p
    }
}
