import Hummingbird
import JSON
import NIOCore
import YidangModel

/// An RFC 9457 problem: `application/problem+json` with a type, a title, the status and,
/// for validation failures, the failing field and the reason.
public struct Problem: Error, Sendable {
    public var status: HTTPResponse.Status
    public var type: String
    public var title: String
    public var detail: String
    public var field: String?
    public var extra: JSONObject = JSONObject()
    /// Headers the answer carries besides the content type (e.g. `Allow` on a 405).
    public var headers = HTTPFields()

    public init(_ status: HTTPResponse.Status, type: String, title: String, detail: String, field: String? = nil) {
        self.status = status; self.type = type; self.title = title; self.detail = detail; self.field = field
    }

    public static let typeBase = "https://yidang.example/problems/"

    public var json: JSONValue {
        var o: JSONObject = ["type": .string(Problem.typeBase + type), "title": .string(title),
                             "status": JSONValue(Int(status.code)), "detail": .string(detail)]
        if let field { o["field"] = .string(field) }
        for (k, v) in extra { o[k] = v }
        return .object(o)
    }

    public var response: Response {
        var headers = self.headers
        headers[.contentType] = "application/problem+json"
        if status == .unauthorized { headers[.wwwAuthenticate] = "Bearer realm=\"yidang\"" }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: JSONWriter.bytes(json))))
    }

    /// The problem for a rejected event.
    /// `422`, or `409` for an id re-used with other content (with the original `position`:
    /// the request is well formed, it collides with what the log holds).
    public static func rejected(_ r: EventRejection) -> Problem {
        if r.code == .idReused {
            var p = Problem(.conflict, type: r.code.rawValue, title: "Event id re-used", detail: r.description, field: r.field)
            if let original = r.originalPosition { p.extra["position"] = JSONValue(original) }
            return p
        }
        return Problem(.unprocessableContent, type: r.code.rawValue, title: "Event rejected", detail: r.description, field: r.field)
    }

    static func notFound(_ what: String) -> Problem { Problem(.notFound, type: "not-found", title: "Not found", detail: what) }
    static func badRequest(_ type: String, _ detail: String, field: String? = nil) -> Problem {
        Problem(.badRequest, type: type, title: "Bad request", detail: detail, field: field)
    }
}

/// JSON responses.
enum Reply {
    static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok, contentType: String = "application/json") -> Response {
        json(bytes: JSONWriter.bytes(value), status: status, contentType: contentType)
    }

    /// A response whose body is JSON text already written.
    static func json(bytes: [UInt8], status: HTTPResponse.Status = .ok, contentType: String = "application/json") -> Response {
        var headers = HTTPFields()
        headers[.contentType] = contentType
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}
