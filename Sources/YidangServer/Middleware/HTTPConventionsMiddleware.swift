import HTTPTypes
import Hummingbird
import NIOCore

/// HTTP's conventions for every route, in one place:
/// - a method a known path does not serve is `405` with `Allow` (TRACE and OPTIONS too);
/// - `HEAD` is answered wherever `GET` is, with the headers and no body (the router makes
///   the HEAD routes: `.autoGenerateHeadEndpoints`);
/// - a declared `Content-Length` over the limit is refused at once (`413`), before a byte
///   of the body is read;
/// - every `/v1` answer carries `Cache-Control: no-store`: they hold personal or
///   access-controlled data that no cache between the hub and its caller may keep.
struct HTTPConventionsMiddleware<Context: RequestContext>: RouterMiddleware {
    /// The routes, as `METHOD /path/{param}` (``YidangServer/routes``).
    let routes: [(method: String, segments: [Substring])]
    let maxBodyBytes: Int

    init(routes: [String], maxBodyBytes: Int) {
        self.routes = routes.compactMap { line in
            let parts = line.split(separator: " ", maxSplits: 1)
            guard parts.count == 2 else { return nil }
            return (String(parts[0]), parts[1].split(separator: "/"))
        }
        self.maxBodyBytes = maxBodyBytes
    }

    /// The methods the routes serve on `path` (empty: no route has the path).
    func methods(for path: String) -> [String] {
        let segments = path.split(separator: "/")
        var out: [String] = []
        for r in routes where r.segments.count == segments.count
            && zip(r.segments, segments).allSatisfy({ $0.0.hasPrefix("{") || $0.0 == $0.1 }) && !out.contains(r.method) {
            out.append(r.method)
        }
        return out
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if let declared = request.headers[.contentLength].flatMap({ Int($0) }), declared > maxBodyBytes {
            throw Problem(.contentTooLarge, type: "body-too-large", title: "Content Too Large",
                          detail: "the body is declared as \(declared) bytes; at most \(maxBodyBytes) are accepted")
        }
        let path = request.uri.path
        let allowed = methods(for: path)
        let isHead = request.method == .head
        if !allowed.isEmpty {
            let asked = isHead ? "GET" : request.method.rawValue
            guard allowed.contains(asked) else {
                let allow = (allowed.contains("GET") ? allowed + ["HEAD"] : allowed).joined(separator: ", ")
                var problem = Problem(.methodNotAllowed, type: "method-not-allowed", title: "Method Not Allowed",
                                      detail: "\(path) answers \(allow), not \(request.method.rawValue)")
                problem.headers[.allow] = allow
                throw problem
            }
        }
        var response = try await next(request, context)
        if path.hasPrefix("/v1/") { response.headers[.cacheControl] = "no-store" }
        return response
    }
}
