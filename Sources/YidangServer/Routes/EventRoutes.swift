import Foundation
import Hummingbird
import JSON
import NIOCore
import YidangModel
import YidangStore

/// `POST /v1/events`: one CloudEvent, a batch (JSON array) or NDJSON. Each event is
/// accepted (position), a duplicate (original position) or rejected (problem) on its own;
/// the response is sent only after the accepted events are durable.
struct EventRoutes {
    let hub: Hub
    let metrics: HubMetrics
    let options: ServerOptions

    enum Format { case single, binary, batch, ndjson }

    func register(on router: Router<YidangRequestContext>) {
        router.post("/v1/events") { request, context in try await publish(request, context) }
    }

    func publish(_ request: Request, _ context: YidangRequestContext) async throws -> Response {
        let principal = try context.require(.publisher)
        let mediaType = (request.headers[.contentType] ?? "").split(separator: ";").first.map {
            $0.trimmingOptionalWhitespace().lowercased()
        } ?? ""
        // CloudEvents HTTP binding, binary content mode: the attributes in `ce-*` headers, the
        // data as the body. The official SDKs send it by default; one event per request.
        let binary = request.headers.contains { $0.name.canonicalName.hasPrefix("ce-") }
        let format: Format
        switch mediaType {
        case "application/cloudevents+json": format = .single
        case "application/json" where !binary: format = .single
        case "application/cloudevents-batch+json": format = .batch
        case "application/x-ndjson", "application/ndjson": format = .ndjson
        case _ where binary:
            // No Content-Type: the data is JSON, as an omitted datacontenttype means (the
            // official SDKs leave it out when the event does not set one).
            guard mediaType.isEmpty || mediaType == "application/json" || (mediaType.hasPrefix("application/") && mediaType.hasSuffix("+json")) else {
                throw Problem(.unsupportedMediaType, type: "unsupported-media-type", title: "Unsupported Media Type",
                              detail: "in binary content mode the body is the event's data, which must be JSON (Content-Type application/json); got \"\(mediaType)\"")
            }
            format = .binary
        default:
            throw Problem(.unsupportedMediaType, type: "unsupported-media-type", title: "Unsupported Media Type",
                          detail: "Content-Type must be application/cloudevents+json, application/cloudevents-batch+json or application/x-ndjson (or application/json with ce-* headers, binary mode); got \"\(mediaType)\"")
        }
        if binary && format != .binary {
            throw Problem.badRequest("mixed-content-mode",
                                     "ce-* headers mean binary content mode, which carries one event with its data as a JSON body; "
                                     + "\(mediaType) is a structured-mode type: send the attributes in the body or drop the ce-* headers",
                                     field: "Content-Type")
        }
        var request = request
        let buffer: ByteBuffer
        do { buffer = try await request.collectBody(upTo: options.maxBodyBytes) } catch {
            throw Problem(.contentTooLarge, type: "body-too-large", title: "Content Too Large",
                          detail: "the body is larger than \(options.maxBodyBytes) bytes")
        }
        let bytes = Array(buffer.readableBytesView)
        let now = EventStore.now()

        // Split into per-event documents, then each through the ingest pipeline.
        let pipeline = IngestPipeline(hub: hub)
        let publisher = principal.role == .publisher ? Publisher(department: principal.source) : .anyDepartment
        var admissions: [Admission] = []
        var outcomes: [AppendResult] = []
        switch format {
        case .binary:
            admissions = [pipeline.admit(try Self.binaryModeEvent(headers: request.headers, body: bytes), by: publisher, now: now)]
            outcomes = try await pipeline.ingest(admissions)
        case .single:
            let document: JSONValue
            do { document = try JSONParser.parse(bytes, keys: pipeline.expectedKeys) } catch {
                throw Problem.badRequest("malformed-json", "the body is not valid JSON: \(error)", field: "(body)")
            }
            if case .array = document {
                throw Problem.badRequest("unexpected-batch", "a JSON array needs Content-Type: application/cloudevents-batch+json")
            }
            admissions = [pipeline.admit(document, by: publisher, now: now)]
            outcomes = try await pipeline.ingest(admissions)
        case .batch:
            let parsed: JSONValue
            do { parsed = try JSONParser.parse(bytes, keys: pipeline.expectedKeys) } catch {
                throw Problem.badRequest("malformed-json", "the body is not valid JSON: \(error)", field: "(body)")
            }
            guard case .array(let items) = parsed else {
                throw Problem.badRequest("not-a-batch", "a batch is a JSON array of CloudEvents, got \(parsed.typeName)", field: "(body)")
            }
            try checkCount(items.count)
            (admissions, outcomes) = try await pipeline.ingest(count: items.count) { pipeline.admit(items[$0], by: publisher, now: now) }
        case .ndjson:
            let lines = NDJSON.lines(bytes)
            try checkCount(lines.count)
            (admissions, outcomes) = try await pipeline.ingest(count: lines.count) { pipeline.admit(line: lines[$0].bytes, by: publisher, now: now) }
        }
        var counts = (accepted: 0, duplicate: 0, rejected: 0)
        var tally = EventTally()
        for (admission, result) in zip(admissions, outcomes) {
            let department = admission.department
            switch result {
            case .accepted: counts.accepted += 1; tally.add(department, "accepted")
            case .duplicate: counts.duplicate += 1; tally.add(department, "duplicate")
            case .rejected(let rej): counts.rejected += 1; tally.add(department, "rejected", reason: rej.code.rawValue)
            }
        }
        tally.report(to: metrics)

        if format == .single || format == .binary {
            if case .rejected(let rej) = outcomes[0] {
                if rej.code == .forbiddenSource {
                    throw Problem(.forbidden, type: "forbidden-source", title: "Forbidden", detail: rej.description, field: "source")
                }
                throw Problem.rejected(rej)
            }
            var w = JSONWriter()
            EventAnswer.write(index: 0, admissions[0], outcomes[0], into: &w)
            return Reply.json(bytes: w.bytes, status: counts.accepted == 1 ? .created : .ok)
        }
        // A batch of which nothing was stored or already there answers 422 (with the same
        // per-event body), so a client that checks only the status does not take it for a success.
        return Reply.json(bytes: EventAnswer.batch(admissions, outcomes, accepted: counts.accepted,
                                                   duplicate: counts.duplicate, rejected: counts.rejected),
                          status: counts.accepted + counts.duplicate == 0 ? .unprocessableContent : .ok)
    }
}

/// A request's events counted by department, result and reason, and added to the
/// metrics once per request: a counter is looked up in the registry each time it is
/// incremented, which for a 1000-event body was a thousand lookups of the same few.
/// Neighbouring events with one key (a department's run of accepted events) are counted as
/// a run, and only a run's end touches the dictionary: hashing the key's strings for every
/// event was ~540 instructions an event (callgrind of the bulk HTTP server).
struct EventTally {
    private var counts: [Key: Int] = [:]
    private var run: (key: Key, count: Int)?
    private struct Key: Hashable { var department: String; var result: String; var reason: String? }

    mutating func add(_ department: String, _ result: String, reason: String? = nil) {
        let key = Key(department: department, result: result, reason: reason)
        if let run, run.key == key {
            self.run = (key, run.count + 1)
            return
        }
        if let run { counts[run.key, default: 0] += run.count }
        run = (key, 1)
    }

    func report(to metrics: HubMetrics) {
        var all = counts
        if let run { all[run.key, default: 0] += run.count }
        for (key, n) in all { metrics.event(department: key.department, result: key.result, reason: key.reason, count: n) }
    }
}

extension EventRoutes {
    /// A batch holds at least one event and at most ``ServerOptions/maxBatchEvents``.
    func checkCount(_ n: Int) throws {
        guard n > 0 else { throw Problem.badRequest("empty-batch", "the body holds no events", field: "(body)") }
        guard n <= options.maxBatchEvents else {
            throw Problem(.contentTooLarge, type: "batch-too-large", title: "Content Too Large",
                          detail: "at most \(options.maxBatchEvents) events per request, got \(n)")
        }
    }

    /// The structured form of a binary-mode event: each `ce-<name>` header is the attribute
    /// `<name>` (percent-decoded, as the HTTP binding encodes non-ASCII), Content-Type is
    /// `datacontenttype`, and the body, parsed as JSON, is `data`. The result then passes
    /// the same validation as a structured event.
    /// - Throws: a 400 ``Problem`` when the body is not JSON or a header is not decodable.
    static func binaryModeEvent(headers: HTTPFields, body: [UInt8]) throws -> JSONValue {
        var o = JSONObject()
        for field in headers where field.name.canonicalName.hasPrefix("ce-") {
            let name = String(field.name.canonicalName.dropFirst(3))
            guard let value = field.value.removingPercentEncoding else {
                throw Problem.badRequest("invalid-header", "\(field.name.canonicalName) is not valid percent-encoded UTF-8", field: field.name.canonicalName)
            }
            guard o[name] == nil else {
                throw Problem.badRequest("invalid-header", "\(field.name.canonicalName) is sent twice", field: field.name.canonicalName)
            }
            o[name] = .string(value)
        }
        if let contentType = headers[.contentType] { o["datacontenttype"] = .string(contentType) }
        if !body.isEmpty {
            do { o["data"] = try JSONParser.parse(body) } catch {
                throw Problem.badRequest("malformed-json", "the body (the event's data in binary mode) is not valid JSON: \(error)", field: "data")
            }
        }
        return .object(o)
    }
}
