import Foundation
import HTTPTypes
import Hummingbird
import JSON
import NIOCore
import ServiceLifecycle
import YidangModel
import YidangProjection
import YidangStore
import YidangSync

/// Subscriptions and the change feed: JSON long-poll pages and SSE.
struct SyncRoutes {
    let hub: Hub
    /// The change feed, as every delivery reads it.
    let feed: ChangeFeedReader
    let audit: AuditTrail
    /// SSE keep-alive comment interval.
    let keepAlive: Duration

    var subscriptions: SubscriptionStore { feed.subscriptions }
    var signal: ChangeFeedSignal { feed.signal }

    func register(on router: Router<YidangRequestContext>) {
        router.post("/v1/subscriptions") { request, context in try await create(request, context) }
        router.get("/v1/subscriptions") { _, context in try list(context) }
        router.get("/v1/subscriptions/:id") { _, context in try Reply.json(owned(context).json()) }
        router.delete("/v1/subscriptions/:id") { _, context in
            let s = try owned(context)
            _ = try await subscriptions.delete(s.id)
            return Response(status: .noContent)
        }
        router.post("/v1/subscriptions/:id/ack") { request, context in try await ack(request, context) }
        router.post("/v1/subscriptions/:id/resume") { _, context in
            let s = try owned(context)
            let updated = try await subscriptions.update(s.id) { $0.status = .active; $0.failures = 0 }
            signal.publish(signal.head)  // wake the dispatcher
            return Reply.json(updated?.json() ?? s.json())
        }
        router.get("/v1/changes") { request, context in try await changes(request, context) }
    }

    func create(_ request: Request, _ context: YidangRequestContext) async throws -> Response {
        let caller = try context.require(.subscriber)
        var request = request
        let body = try await request.jsonBody(upTo: 1 << 16)
        try audit.recordOrRefuse(caller, action: "subscription.create", subject: nil, detail: body["name"]?.stringValue, logger: context.logger)
        do {
            let s = try await subscriptions.create(request: body, owner: caller.name, ownerDepartment: caller.source,
                                             maxClearance: caller.clearance, head: try hub.reader.changeHead())
            var o = s.json().objectValue ?? JSONObject()
            if let secret = s.webhook?.secret { o["secret"] = .string(secret) }
            return Reply.json(.object(o), status: .created)
        } catch let e as SubscriptionError {
            throw Problem(.unprocessableContent, type: "invalid-subscription", title: "Invalid subscription", detail: e.reason, field: e.field)
        }
    }

    func list(_ context: YidangRequestContext) throws -> Response {
        let caller = try context.require(.subscriber)
        let all = subscriptions.list().filter { caller.role == .admin || $0.owner == caller.name }
        return Reply.json(["subscriptions": .array(all.map { $0.json() })])
    }

    /// The subscription in the path, if the caller owns it (or is admin).
    func owned(_ context: YidangRequestContext, id: String? = nil) throws -> Subscription {
        let caller = try context.require(.subscriber)
        let sid = id ?? context.parameters.get("id") ?? ""
        guard let s = subscriptions.get(sid), caller.role == .admin || s.owner == caller.name else {
            throw Problem.notFound("no subscription \(sid)")
        }
        return s
    }

    func ack(_ request: Request, _ context: YidangRequestContext) async throws -> Response {
        let s = try owned(context)
        var request = request
        // A body that is not JSON has no position: answered below as the 422 naming the field.
        let body = try? JSONParser.parse(Array(try await request.collectBody(upTo: 1 << 12).readableBytesView))
        guard let text = body?["position"]?.numberText, let position = UInt64(text) else {
            throw Problem(.unprocessableContent, type: "invalid-field", title: "Invalid ack", detail: "position must be a change position", field: "position")
        }
        do {
            let updated = try await feed.advance(s.id, to: position)
            return Reply.json(updated?.json() ?? s.json())
        } catch let e as CursorError {
            throw Problem(.unprocessableContent, type: "invalid-field", title: "Invalid ack", detail: e.description, field: "position")
        }
    }

    /// A change position given by a subscriber: a decimal number no greater than the head.
    /// - Throws: a 400 problem when it is not a number, a 422 when it is past the head.
    static func position(_ text: String, field: String, head: UInt64) throws -> UInt64 {
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let v = UInt64(text) else {
            throw Problem.badRequest("invalid-position", "\(field) must be a change position (a number from 0 to the head \(head)), got \"\(text)\"",
                                     field: field)
        }
        guard v <= head else {
            throw Problem(.unprocessableContent, type: "position-past-head", title: "Position past the head",
                          detail: "\(field) \(v) is past the change feed's head \(head): this hub never emitted it", field: field)
        }
        return v
    }

    func page(_ s: Subscription, after: UInt64, limit: Int) throws -> (items: [JSONValue], next: UInt64) {
        try feed.page(for: s, after: after, limit: limit)
    }

    func changes(_ request: Request, _ context: YidangRequestContext) async throws -> Response {
        guard let sid = request.uri.queryParameters.get("subscription") else {
            throw Problem.badRequest("missing-subscription", "subscription=ID is required", field: "subscription")
        }
        let s = try owned(context, id: sid)
        let limit = try request.integerQuery("limit", in: 1...10_000, fallback: 100)
        let head = try hub.reader.changeHead()
        var after = s.cursor
        if let a = request.uri.queryParameters.get("after") {
            after = try Self.position(String(a), field: "after", head: head)
        }
        let wantsSSE = (request.headers[.accept] ?? "").contains("text/event-stream")
        if wantsSSE {
            // A resume point that is not a change position, or one past the head (from another
            // hub, or a store restored from an older backup), is refused: falling back to the
            // cursor, or waiting silently for positions that may never mean the same changes,
            // would hide from the subscriber that its place in the feed is lost.
            if let name = HTTPField.Name("Last-Event-ID"), let last = request.headers[name] {
                after = try Self.position(String(last.trimmingOptionalWhitespace()), field: "Last-Event-ID", head: head)
            }
            return sse(s, after: after)
        }
        // Long-poll: wait up to `wait` seconds for something visible.
        let waitSeconds = try request.integerQuery("wait", in: 0...60, fallback: 0)
        var result = try page(s, after: after, limit: limit)
        if result.items.isEmpty && waitSeconds > 0 {
            let deadline = ContinuousClock.now + .seconds(waitSeconds)
            while result.items.isEmpty && ContinuousClock.now < deadline {
                let position = max(result.next, after)
                _ = await withGracefulShutdownHandler {
                    await feed.waitForChanges(after: position, timeout: deadline - ContinuousClock.now)
                } onGracefulShutdown: {
                    signal.close()   // a long-poll must not hold up shutdown
                }
                if signal.isClosed { break }
                result = try page(s, after: result.next, limit: limit)
            }
        }
        return Reply.json(["subscription": .string(s.id), "changes": .array(result.items), "next": JSONValue(result.next),
                           "head": JSONValue(try hub.reader.changeHead())])
    }

    /// Server-sent events: `id:` is the change position; new changes are pushed when their
    /// batch commits; a keep-alive comment goes out when idle.
    func sse(_ s: Subscription, after: UInt64) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-store"
        let id = s.id
        let body = ResponseBody { writer in
            var cursor = after
            try await writer.write(ByteBuffer(string: ": yidang change feed for \(id) after \(after)\nretry: 1000\n\n"))
            while !signal.isClosed && !Task.isCancelled {
                guard let current = subscriptions.get(id) else { break }
                let (frames, count, next) = try feed.framePage(for: current, after: cursor, limit: 500)
                if count > 0 { try await writer.write(ByteBuffer(string: frames)) }
                cursor = next
                if count == 0 || next >= signal.head {
                    let woke = await withGracefulShutdownHandler {
                        await feed.waitForChanges(after: cursor, timeout: keepAlive)
                    } onGracefulShutdown: {
                        signal.close()
                    }
                    if !woke && !signal.isClosed { try await writer.write(ByteBuffer(string: ": keep-alive\n\n")) }
                }
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: headers, body: body)
    }
}
