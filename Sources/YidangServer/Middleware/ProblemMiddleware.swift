import Hummingbird
import Logging

/// Turns every error into `application/problem+json`: a ``Problem`` as it is, Hummingbird's
/// HTTP errors with their status, anything else as a 500 without internals.
struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let p as Problem {
            return p.response
        } catch let e as HTTPError {
            let type: String
            switch e.status {
            case .notFound: type = "not-found"
            case .contentTooLarge: type = "body-too-large"
            case .methodNotAllowed: type = "method-not-allowed"
            default: type = "http-\(e.status.code)"
            }
            return Problem(e.status, type: type, title: e.status.reasonPhrase, detail: e.body ?? e.status.reasonPhrase).response
        } catch {
            context.logger.error("internal error: \(error)")
            return Problem(.internalServerError, type: "internal", title: "Internal Server Error", detail: "the hub could not complete the request").response
        }
    }
}
