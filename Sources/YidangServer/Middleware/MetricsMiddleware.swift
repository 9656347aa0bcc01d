import Dispatch
import Hummingbird
import Metrics

/// Records every request's duration (`yidang_http_request_duration_seconds`, whose
/// `_count` counts requests) by method, route and status, errors included.
///
/// It is the outermost middleware, so it sees the problem responses the inner
/// ``ProblemMiddleware`` makes of thrown errors; an error that still reaches it is counted
/// with the status it will be answered with, and passed on.
struct MetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: HubMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = DispatchTime.now().uptimeNanoseconds
        let status: Int
        let response: Response
        do {
            response = try await next(request, context)
            status = Int(response.status.code)
        } catch {
            let code: Int
            switch error {
            case let p as Problem: code = Int(p.status.code)
            case let e as HTTPError: code = Int(e.status.code)
            default: code = 500
            }
            record(request, context, status: code, start: start)
            throw error
        }
        record(request, context, status: status, start: start)
        return response
    }

    private func record(_ request: Request, _ context: Context, status: Int, start: UInt64) {
        // A path no route matched is one label, not one per path (Hummingbird names it
        // "NotFound"; routes start with "/").
        let route = context.endpointPath.flatMap { $0.hasPrefix("/") ? $0 : nil } ?? "unmatched"
        metrics.requestDuration(method: request.method.rawValue, route: route, status: status,
                                nanoseconds: DispatchTime.now().uptimeNanoseconds - start)
    }
}
