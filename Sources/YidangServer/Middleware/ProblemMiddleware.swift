import Hummingbird
import Logging
import NATS

/// Turns every error into `application/problem+json`: a ``Problem`` as it is, Hummingbird's
/// HTTP errors with their status, a replicated log that did not answer as a 503, anything else as a 500 without internals.
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
        } catch let e as NATSError {
            // A cluster node's replicated log did not acknowledge in time (a NATS server or
            // the stream's leader lost): the write may or may not be in the stream, and a
            // retry of the same event is answered as a duplicate if it is.
            context.logger.error("the replicated log did not answer: \(e)")
            var p = Problem(.serviceUnavailable, type: "log-unavailable", title: "Service Unavailable",
                            detail: "the replicated log did not acknowledge the write in time; it may or may not be stored: send the same request again (a stored event is then answered as a duplicate)")
            p.headers[.retryAfter] = "1"
            return p.response
        } catch {
            context.logger.error("internal error: \(error)")
            return Problem(.internalServerError, type: "internal", title: "Internal Server Error", detail: "the hub could not complete the request").response
        }
    }
}
