import Dispatch
import Hummingbird
import Metrics

/// Records HTTP request durations (`yidang_http_request_duration_seconds`) by method,
/// route and status.
struct MetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: HubMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = DispatchTime.now().uptimeNanoseconds
        let response = try await next(request, context)
        let route = context.endpointPath ?? "unmatched"
        metrics.requestDuration(method: request.method.rawValue, route: route, status: Int(response.status.code),
                                nanoseconds: DispatchTime.now().uptimeNanoseconds - start)
        return response
    }
}
