import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JSON
import NIOCore
import Testing
import TestSupport
import YidangModel
@testable import YidangServer
@testable import YidangStore
@testable import YidangSync
import RocksDB

/// What integrating departments and subscriber systems meet at the hub's edges: each test
/// fails on a hub that loses or misreports data there.
@Suite struct EdgeTests {
    func quality(_ client: any TestClientProtocol, _ f: Fixture, _ department: String) async throws -> JSONValue? {
        let q = try json(try await client.execute(uri: "/v1/quality", method: .get, headers: f.headers("steward")))
        return q["departments"]?.arrayValue?.first { $0["department"]?.stringValue == department }
    }

    @Test func anIdReusedWithOtherContentIsA409AndStoresNothing() async throws {
        let f = try Fixture()
        defer { f.hub.close() }
        try await f.run { client in
            let first = try await client.execute(uri: "/v1/events", method: .post, headers: f.headers("gongan"),
                                                 body: body(event("gongan-1", data: ["name": "张三", "gender": "1"])))
            #expect(first.status == .created)
            // The same event with its members in another order and its time in another zone: a duplicate.
            var same = event("gongan-1", data: ["gender": "1", "name": "张三"]).objectValue ?? [:]
            same["time"] = "2026-11-20T00:00:00Z"
            let repeatCall = try await client.execute(uri: "/v1/events", method: .post, headers: f.headers("gongan"), body: body(.object(same)))
            #expect(repeatCall.status == .ok)
            #expect(try json(repeatCall)["status"] == "duplicate")

            let reused = try await client.execute(uri: "/v1/events", method: .post, headers: f.headers("gongan"),
                                                  body: body(event("gongan-1", data: ["name": "李四", "gender": "1"])))
            #expect(reused.status == .conflict)
            #expect(reused.headers[.contentType] == "application/problem+json")
            let problem = try json(reused)
            #expect(problem["type"] == "https://yidang.example/problems/id-reused")
            #expect(problem["position"]?.intValue == 1)
            #expect(problem["field"] == "id")

            // In a batch: that event alone is refused, with the same problem.
            let batch = try await client.execute(uri: "/v1/events", method: .post, headers: f.headers("gongan", "application/cloudevents-batch+json"),
                                                 body: body([event("gongan-1", data: ["name": "王五"]), event("gongan-2")]))
            let results = try json(batch)["results"]?.arrayValue ?? []
            #expect(results.map { $0["status"]?.stringValue ?? "" } == ["rejected", "accepted"])
            #expect(results.first?["problem"]?["status"]?.intValue == 409)
            #expect(results.first?["problem"]?["position"]?.intValue == 1)

            #expect(try await quality(client, f, "gongan")?["rejectedByReason"]?["id-reused"]?.intValue == 2)
            let record = try json(try await client.execute(uri: "/v1/persons/11010519491231002X", method: .get, headers: f.headers("reader")))
            #expect(record["attributes"]?["name"]?["value"] == "张三")
        }
        #expect(try f.hub.reader.headPosition() == 2)
    }

    /// The batch answer is written straight into bytes: it must be the JSON a client parses,
    /// member for member and in order, with ids that need escaping escaped.
    @Test func aBatchAnswerIsCompactJSONWithEveryResultInOrder() async throws {
        let f = try Fixture()
        defer { f.hub.close() }
        let awkward = "引号\"与\\反斜杠\t-1"
        let lines = [JSONWriter.serialize(event(awkward)),
                     JSONWriter.serialize(event(awkward)),
                     JSONWriter.serialize(event("bad-1", subject: "person/110105194912310021")),
                     #"{"specversion":"1.0","#,
                     JSONWriter.serialize(event("ok-2", subject: "person/110105194912310011"))]
        let (status, raw, metrics) = try await f.run { client in
            let r = try await client.execute(uri: "/v1/events", method: .post, headers: f.headers("gongan", "application/x-ndjson"),
                                             body: ByteBuffer(string: lines.joined(separator: "\n")))
            let metrics = String(buffer: try await client.execute(uri: "/metrics", method: .get).body)
            return (r.status, Array(r.body.readableBytesView), metrics)
        }
        // Counted by department, result and reason, the first result's count resumed after others.
        for line in [#"yidang_events_total{department="gongan",result="accepted"} 2"#,
                     #"yidang_events_total{department="gongan",result="duplicate"} 1"#,
                     #"yidang_events_total{department="gongan",result="rejected"} 2"#,
                     #"yidang_event_rejections_total{department="gongan",reason="invalid-identifier"} 1"#,
                     #"yidang_event_rejections_total{department="gongan",reason="malformed-json"} 1"#] {
            #expect(metrics.split(separator: "\n").contains { $0 == line }, "\(line)")
        }
        #expect(status == .ok)
        let answer = try JSONParser.parse(raw)
        // Compact, nothing but the document: written again from its parse, it is the same bytes.
        #expect(JSONWriter.bytes(answer) == raw)
        #expect(answer.objectValue?.keys == ["accepted", "duplicate", "rejected", "results"])
        #expect(answer["accepted"]?.intValue == 2 && answer["duplicate"]?.intValue == 1 && answer["rejected"]?.intValue == 2)
        let results = try #require(answer["results"]?.arrayValue)
        #expect(results.map { $0.objectValue?.keys ?? [] } == [
            ["index", "id", "source", "status", "position"],
            ["index", "id", "source", "status", "position"],
            ["index", "id", "status", "problem"],   // refused: no source vouched for
            ["index", "status", "problem"],
            ["index", "id", "source", "status", "position"],
        ])
        #expect(results.map { $0["index"]?.intValue ?? -1 } == [0, 1, 2, 3, 4])
        #expect(results.map { $0["status"]?.stringValue ?? "" } == ["accepted", "duplicate", "rejected", "rejected", "accepted"])
        #expect(results[0]["id"]?.stringValue == awkward && results[1]["id"]?.stringValue == awkward)
        #expect(results.map { $0["position"]?.intValue } == [1, 1, nil, nil, 2])
        #expect(results[2]["problem"]?["type"] == "https://yidang.example/problems/invalid-identifier")
        #expect(results[3]["problem"]?["type"] == "https://yidang.example/problems/malformed-json")
        #expect(try f.hub.reader.headPosition() == 2)
    }

    @Test func headerValuesMayCarryOptionalWhitespace() async throws {
        let f = try Fixture()
        defer { f.hub.close() }
        let token = try #require(f.tokens["gongan"])
        try await f.run { client in
            // RFC 9110's optional whitespace (spaces, tabs) around a token and a media type.
            var h = HTTPFields()
            h[.authorization] = "Bearer \t \(token)"
            h[.contentType] = "application/cloudevents+json ; charset=utf-8"
            let ok = try await client.execute(uri: "/v1/events", method: .post, headers: h, body: body(event("ows-1")))
            #expect(ok.status == .created)
            #expect(try json(ok)["position"]?.intValue == 1)
            // Anything else around the token is part of it: not a valid token.
            h[.authorization] = "Bearer \(token)x"
            let refused = try await client.execute(uri: "/v1/events", method: .post, headers: h, body: body(event("ows-2")))
            #expect(refused.status == .unauthorized)
        }
        #expect(try f.hub.reader.headPosition() == 1)
    }

    @Test func binaryContentModeIsAcceptedWithTheSameValidation() async throws {
        let f = try Fixture()
        defer { f.hub.close() }
        @Sendable func binary(_ attributes: [String: String], contentType: String = "application/json", token: String = "gongan") -> HTTPFields {
            var h = f.headers(token, contentType)
            for (k, v) in attributes { h[HTTPField.Name("ce-" + k)!] = v }
            return h
        }
        let envelope = ["specversion": "1.0", "id": "bin-1", "source": "gongan", "type": "person.updated",
                        "subject": "person/11010519491231002X", "time": "2026-11-20T08:00:00+08:00"]
        try await f.run { client in
            let ok = try await client.execute(uri: "/v1/events", method: .post, headers: binary(envelope), body: body(["name": "张三"]))
            #expect(ok.status == .created)
            #expect(try json(ok)["position"]?.intValue == 1)
            // The same event in structured mode is the same event.
            var structured = event("bin-1", data: ["name": "张三"]).objectValue ?? [:]
            structured["datacontenttype"] = "application/json"
            let dup = try await client.execute(uri: "/v1/events", method: .post, headers: f.headers("gongan"), body: body(.object(structured)))
            #expect(try json(dup)["status"] == "duplicate")

            // Percent-encoded header values (the binding's rule for non-ASCII) are decoded.
            var encoded = envelope
            encoded["id"] = "bin-%E4%BA%8C"
            let decoded = try await client.execute(uri: "/v1/events", method: .post, headers: binary(encoded), body: body(["name": "张三"]))
            #expect(try json(decoded)["id"] == "bin-二")

            var missing = envelope
            missing["id"] = nil
            let noId = try await client.execute(uri: "/v1/events", method: .post, headers: binary(missing), body: body(["name": "张三"]))
            #expect(noId.status == .unprocessableContent)
            #expect(try json(noId)["field"] == "id")
            var bad = envelope
            bad["id"] = "bin-3"
            let badValue = try await client.execute(uri: "/v1/events", method: .post, headers: binary(bad), body: body(["birthDate": "1949-02-30"]))
            #expect(badValue.status == .unprocessableContent)
            #expect(try json(badValue)["field"] == "data.birthDate")
            let notJSON = try await client.execute(uri: "/v1/events", method: .post, headers: binary(bad), body: ByteBuffer(string: "{oops"))
            #expect(notJSON.status == .badRequest)
            #expect(try json(notJSON)["field"] == "data")
            let text = try await client.execute(uri: "/v1/events", method: .post, headers: binary(bad, contentType: "text/plain"), body: ByteBuffer(string: "x"))
            #expect(text.status == .unsupportedMediaType)
            let batchMode = try await client.execute(uri: "/v1/events", method: .post, headers: binary(bad, contentType: "application/cloudevents-batch+json"),
                                                     body: body([event("x")]))
            #expect(batchMode.status == .badRequest)
            let forbidden = try await client.execute(uri: "/v1/events", method: .post, headers: binary(bad, token: "renshe"), body: body(["name": "张三"]))
            #expect(forbidden.status == .forbidden)
        }
        #expect(try f.hub.reader.headPosition() == 2)
    }

    @Test func rejectionsAreChargedToTheTokensDepartment() async throws {
        let f = try Fixture()
        defer { f.hub.close() }
        try await f.run { client in
            let r = try await client.execute(uri: "/v1/events", method: .post, headers: f.headers("renshe"), body: body(event("x-1")))
            #expect(r.status == .forbidden)
            #expect(try await quality(client, f, "renshe")?["rejectedByReason"]?["forbidden-source"]?.intValue == 1)
            #expect(try await quality(client, f, "gongan")?["rejected"]?.intValue ?? 0 == 0)
            let metrics = String(buffer: try await client.execute(uri: "/metrics", method: .get).body)
            #expect(metrics.contains(#"yidang_event_rejections_total{department="renshe",reason="forbidden-source"} 1"#))
            #expect(!metrics.contains(#"department="gongan""#))
        }
    }

    /// gongan says 张三, renshe 张叁 (gongan has precedence): after `reject gongan` the record
    /// shows 张叁, and so must the conflict.
    @Test func aSettledConflictShowsTheDecidedOutcome() async throws {
        let f = try Fixture()
        defer { f.hub.close() }
        try await f.run { client in
            _ = try await client.execute(uri: "/v1/events", method: .post, headers: f.headers("gongan"), body: body(event("g-1", data: ["name": "张三"])))
            _ = try await client.execute(uri: "/v1/events", method: .post, headers: f.headers("renshe"),
                                         body: body(event("r-1", source: "renshe", data: ["name": "张叁"])))
            let open = try json(try await client.execute(uri: "/v1/conflicts/1", method: .get, headers: f.headers("steward")))
            #expect(open["winner"] == "张三")
            let settled = try json(try await client.execute(uri: "/v1/conflicts/1/resolve", method: .post, headers: f.headers("steward", "application/json"),
                                                            body: body(["action": "reject", "source": "gongan"])))
            #expect(settled["status"] == "resolved")
            #expect(settled["winner"] == "张叁")
            let winning = (settled["candidates"]?.arrayValue ?? []).filter { $0["winning"] == true }.map { $0["source"]?.stringValue ?? "" }
            #expect(winning == ["renshe"])
            let record = try json(try await client.execute(uri: "/v1/persons/11010519491231002X", method: .get, headers: f.headers("reader")))
            #expect(record["attributes"]?["name"]?["value"] == settled["winner"])
        }
    }

    @Test func aPinIsCheckedAgainstTheAttributeAndTheCandidates() async throws {
        let f = try Fixture()
        defer { f.hub.close() }
        try await f.run { client in
            _ = try await client.execute(uri: "/v1/events", method: .post, headers: f.headers("gongan"),
                                         body: body(event("g-1", data: ["name": "张三", "birthDate": "1949-12-31"])))
            _ = try await client.execute(uri: "/v1/events", method: .post, headers: f.headers("renshe"),
                                         body: body(event("r-1", source: "renshe", data: ["name": "张叁", "birthDate": "1949-12-30"])))
            let conflicts = try json(try await client.execute(uri: "/v1/conflicts", method: .get, headers: f.headers("steward")))["conflicts"]?.arrayValue ?? []
            let name = try #require(conflicts.first { $0["attribute"] == "name" }?["id"]?.intValue)
            let birth = try #require(conflicts.first { $0["attribute"] == "birthDate" }?["id"]?.intValue)
            func resolve(_ id: Int, _ decision: JSONValue) async throws -> TestResponse {
                try await client.execute(uri: "/v1/conflicts/\(id)/resolve", method: .post, headers: f.headers("steward", "application/json"), body: body(decision))
            }
            // The README's slip: an address pinned onto a name.
            let slip = try await resolve(name, ["action": "pin", "value": "北京市朝阳区建国路88号"])
            #expect(slip.status == .unprocessableContent)
            #expect(try json(slip)["field"] == "value")
            #expect(try json(slip)["detail"]?.stringValue?.contains("force") == true)
            let notADate = try await resolve(birth, ["action": "pin", "value": "1949-02-30", "force": true])
            #expect(notADate.status == .unprocessableContent)
            #expect(try json(notADate)["field"] == "value")
            let badForce = try await resolve(birth, ["action": "pin", "value": "1949-12-31", "force": "yes"])
            #expect(badForce.status == .unprocessableContent)
            #expect(try json(badForce)["field"] == "force")
            #expect(try f.hub.reader.headPosition() == 2)   // nothing of the refused decisions stored

            // A candidate's value, in another width, needs no force.
            let candidate = try json(try await resolve(birth, ["action": "pin", "value": "１９４９-12-30"]))
            #expect(candidate["winner"] == "1949-12-30")
            let forced = try json(try await resolve(name, ["action": "pin", "value": "张三丰", "force": true]))
            #expect(forced["status"] == "resolved")
            #expect(forced["winner"] == "张三丰")
        }
    }

    @Test func aResumePointThatIsNotAPositionOrPastTheHeadIsRefused() async throws {
        let f = try Fixture()
        defer { f.hub.close() }
        try await f.run { client in
            let sid = try #require(try json(try await client.execute(uri: "/v1/subscriptions", method: .post, headers: f.headers("subscriber", "application/json"),
                                                                      body: body(["name": "s"])))["id"]?.stringValue)
            _ = try await client.execute(uri: "/v1/events", method: .post, headers: f.headers("gongan"), body: body(event("g-1")))
            for (value, status) in [("abc", HTTPResponse.Status.badRequest), ("-5", .badRequest), ("", .badRequest), ("99", .unprocessableContent)] {
                var h = f.headers("subscriber", nil)
                h[.accept] = "text/event-stream"
                h[HTTPField.Name("Last-Event-ID")!] = value
                let r = try await client.execute(uri: "/v1/changes?subscription=\(sid)", method: .get, headers: h)
                #expect(r.status == status, "Last-Event-ID \(value)")
                #expect(r.headers[.contentType] == "application/problem+json")
                #expect(try json(r)["field"] == "Last-Event-ID")
            }
            let past = try await client.execute(uri: "/v1/changes?subscription=\(sid)&after=2", method: .get, headers: f.headers("subscriber", nil))
            #expect(past.status == .unprocessableContent)
            let atHead = try await client.execute(uri: "/v1/changes?subscription=\(sid)&after=1", method: .get, headers: f.headers("subscriber", nil))
            #expect(atHead.status == .ok)
        }
    }

    /// Every request is counted by route and status, errors included, and each metric family
    /// has one label set.
    @Test func everyRequestIsCountedByRouteAndStatus() async throws {
        let f = try Fixture()
        defer { f.hub.close() }
        try await f.run { client in
            _ = try await client.execute(uri: "/v1/events", method: .post, headers: f.headers("gongan"), body: body(event("g-1")))
            _ = try await client.execute(uri: "/v1/events", method: .post, headers: f.headers("gongan"), body: body(event("g-2", data: ["nickname": "x"])))
            _ = try await client.execute(uri: "/v1/events", method: .post, headers: f.headers(nil), body: body(event("g-3")))
            _ = try await client.execute(uri: "/v1/persons/11010519491231002X", method: .get, headers: f.headers("reader"))
            _ = try await client.execute(uri: "/v1/persons/123", method: .get, headers: f.headers("reader"))
            _ = try await client.execute(uri: "/v1/nowhere", method: .get, headers: f.headers("reader"))
            let text = String(buffer: try await client.execute(uri: "/metrics", method: .get).body)
            func count(_ route: String, _ status: Int, method: String) -> Int? {
                let prefix = #"yidang_http_request_duration_seconds_count{method="\#(method)",route="\#(route)",status="\#(status)"} "#
                return text.split(separator: "\n").first { $0.hasPrefix(prefix) }.flatMap { Int($0.dropFirst(prefix.count)) }
            }
            #expect(count("/v1/events", 201, method: "POST") == 1)
            #expect(count("/v1/events", 422, method: "POST") == 1)
            #expect(count("/v1/events", 401, method: "POST") == 1)
            #expect(count("/v1/persons/{id}", 200, method: "GET") == 1)
            #expect(count("/v1/persons/{id}", 400, method: "GET") ?? count("/v1/persons/{id}", 422, method: "GET") == 1)
            #expect(count("unmatched", 404, method: "GET") == 1)
            // One label set per family.
            var labelSets: [String: Set<String>] = [:]
            for line in text.split(separator: "\n") where !line.hasPrefix("#") {
                guard let brace = line.firstIndex(of: "{"), let end = line.lastIndex(of: "}") else { continue }
                let name = String(line[..<brace]).replacingOccurrences(of: "_bucket", with: "")
                // Label values here hold no `",`: split between labels on `",`.
                let labels = line[line.index(after: brace)..<end].components(separatedBy: "\",").map { String($0.split(separator: "=")[0]) }
                    .filter { $0 != "le" }.sorted().joined(separator: ",")
                labelSets[name, default: []].insert(labels)
            }
            for (name, sets) in labelSets { #expect(sets.count == 1, "\(name): \(sets)") }
            #expect(labelSets["yidang_events_total"] == ["department,result"])
        }
    }
}

/// A Standard Webhooks receiver that processes each `webhook-id` once (as the standard tells
/// receivers to), and answers its first request only after the hub has given up waiting.
final class DeduplicatingReceiver: @unchecked Sendable {
    private let lock = NSLock()
    private var seen: Set<String> = []
    private var processed: [Int] = []
    private var requests = 0
    private var bodies: [String: [UInt8]] = [:]
    private var sameIdOtherBody = false
    private var task: Task<Void, Error>?
    private(set) var port = 0
    let firstDelay: Duration

    init(firstDelay: Duration) { self.firstDelay = firstDelay }

    var positions: [Int] { lock.withLock { processed } }
    var requestCount: Int { lock.withLock { requests } }
    var anIdCarriedTwoBodies: Bool { lock.withLock { sameIdOtherBody } }

    func start() async throws {
        let router = Router()
        router.post("/hook") { request, _ -> Response in
            var request = request
            let body = Array(try await request.collectBody(upTo: 1 << 24).readableBytesView)
            let id = request.headers[HTTPField.Name("webhook-id")!] ?? ""
            // Processed on arrival, answered later: the receiver has the changes before the
            // hub's timeout, and drops the id when the hub sends it again.
            let first = self.lock.withLock { () -> Bool in
                self.requests += 1
                if let earlier = self.bodies[id], earlier != body { self.sameIdOtherBody = true }
                self.bodies[id] = body
                if self.seen.insert(id).inserted {
                    let changes = (try? JSONParser.parse(body))?.arrayValue ?? []
                    self.processed += changes.compactMap { $0["position"]?.intValue }
                }
                return self.requests == 1
            }
            if first { try await Task.sleep(for: self.firstDelay) }
            return Response(status: .noContent)
        }
        let ready = AsyncStream<Int>.makeStream()
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { ch in ready.continuation.yield(ch.localAddress?.port ?? 0) })
        task = Task { try await app.run() }
        for await p in ready.stream { port = p; break }
    }
    func stop() { task?.cancel() }
}

@Suite struct WebhookIdentityTests {
    /// The first message times out while the receiver is still working on it; ten more
    /// changes arrive meanwhile. The retry must carry exactly what the first message carried
    /// (a receiver drops the repeated id), and the rest must follow under new ids.
    @Test func aRetriedMessageKeepsItsIdAndItsBody() async throws {
        let f = try Fixture()
        defer { f.hub.close() }
        let receiver = DeduplicatingReceiver(firstDelay: .milliseconds(1500))
        try await receiver.start()
        defer { receiver.stop() }
        var options = ServerOptions()
        options.webhooks.requestTimeout = .milliseconds(300)
        options.webhooks.initialBackoff = .milliseconds(50)
        options.webhooks.maxBackoff = .milliseconds(100)
        options.webhooks.maxFailures = 50
        try await f.run(options: options) { client in
            _ = try await client.execute(uri: "/v1/subscriptions", method: .post, headers: f.headers("subscriber", "application/json"),
                                         body: body(["name": "hook", "webhook": ["url": .string("http://127.0.0.1:\(receiver.port)/hook")]]))
            func publish(_ i: Int) async throws {
                _ = try await client.execute(uri: "/v1/events", method: .post, headers: f.headers("gongan"),
                                             body: body(event("p-\(i)", subject: "person/\(CitizenIDs.make(i, region: "330203"))", data: ["name": .string("名\(i)")])))
            }
            try await publish(0)
            try await waitUntil { receiver.requestCount >= 1 }
            for i in 1..<10 { try await publish(i) }
            try await waitUntil(15) { receiver.positions.count >= 10 }
            #expect(receiver.positions == Array(1...10))
            #expect(!receiver.anIdCarriedTwoBodies)
            #expect(receiver.requestCount >= 3)   // the first, at least one retry of it, the rest
        }
    }
}

@Suite struct AuditRefusalTests {
    /// PIPL access accounting may not have holes: when the audit trail cannot be written, a
    /// person's record and history are not served (500), and nothing else is affected.
    @Test func aReadThatCannotBeAuditedIsRefused() async throws {
        let f = try Fixture()
        defer { f.hub.close() }
        let broken = try Database(path: tempDir() + "/audit")
        broken.close()   // every write to it now fails in RocksDB's own way
        var options = ServerOptions()
        options.port = 0
        let app = try await YidangServer.application(hub: f.hub, options: options, audit: AuditTrail(database: broken))
        try await app.test(.live) { client in
            _ = try await client.execute(uri: "/v1/events", method: .post, headers: f.headers("gongan"), body: body(event("g-1")))
            for path in ["/v1/persons/11010519491231002X", "/v1/persons/11010519491231002X/history"] {
                let r = try await client.execute(uri: path, method: .get, headers: f.headers("reader"))
                #expect(r.status == .internalServerError, "\(path)")
                #expect(try json(r)["type"] == "https://yidang.example/problems/audit-unavailable")
                #expect(!String(buffer: r.body).contains("张三"))
            }
            #expect(TestLogging.contains("audit trail write failed; refusing read"))
            let enterprise = try await client.execute(uri: "/v1/enterprises/91310115MA1K3BTP2B", method: .get, headers: f.headers("reader"))
            #expect(enterprise.status == .notFound)
        }
    }
}

@Suite struct DeliveryStateFailureTests {
    /// The webhook is delivered but its cursor cannot be written (the subscriptions' store
    /// fails): the failure is counted and retried, never dropped as if it had landed.
    @Test func aCursorWriteThatFailsIsCountedAndRetried() async throws {
        let f = try Fixture()
        defer { f.hub.close() }
        let receiver = Receiver()
        try await receiver.start()
        defer { receiver.stop() }
        let subscriptionsDB = try Database(path: tempDir() + "/subs")
        let store = try SubscriptionStore(records: SubscriptionRecords(database: subscriptionsDB), configuration: f.hub.configuration)
        let s = try await store.create(request: ["name": "hook", "webhook": ["url": .string("http://127.0.0.1:\(receiver.port)/hook")]],
                                 owner: "o", ownerDepartment: nil, maxClearance: .L2, head: 0)
        let signal = ChangeFeedSignal(head: try f.hub.reader.changeHead())
        await f.hub.store.setChangeObserver { head in signal.publish(head) }
        let metrics = HubMetrics()
        var options = DeliveryOptions()
        options.initialBackoff = .milliseconds(10)
        options.maxBackoff = .milliseconds(40)
        let dispatcher = PushDispatcher(feed: ChangeFeedReader(reader: f.hub.reader, subscriptions: store, signal: signal),
                                        options: options, metrics: SyncMetrics(factory: metrics.factory))
        let running = Task { await dispatcher.run() }
        subscriptionsDB.close()
        let pub = try personEvent(f.hub)
        _ = try await f.hub.store.append([pub])
        func failures() -> Int {
            var out = [UInt8]()
            metrics.registry.emit(into: &out)
            let prefix = #"yidang_subscription_state_failures_total{subscription="\#(s.id)",operation="write"} "#
            return String(decoding: out, as: UTF8.self).split(separator: "\n").first { $0.hasPrefix(prefix) }.flatMap { Int($0.dropFirst(prefix.count)) } ?? 0
        }
        try await waitUntil { failures() >= 3 }
        #expect(receiver.positions == [1])      // delivered once
        #expect(failures() >= 3)                // and the cursor write retried, not dropped
        #expect(store.get(s.id)?.cursor == 0)   // never recorded as written
        #expect(TestLogging.contains("writing its delivery state failed", labelPrefix: "yidang.delivery"))
        signal.close()
        running.cancel()
        _ = await running.value
    }

    func personEvent(_ hub: Hub) throws -> Event {
        try hub.validator.validate(event("w-1", subject: "person/\(CitizenIDs.make(1, region: "330203"))", data: ["name": "甲", "regionCode": "330203"]),
                                   now: EventStore.now())
    }
}

@Suite struct HTTPConventionTests {
    @Test func methodsHeadCachingAndEarlyLimits() async throws {
        let f = try Fixture()
        defer { f.hub.close() }
        var small = ServerOptions()
        small.maxBodyBytes = 1000
        try await f.run(options: small) { client in
            _ = try await client.execute(uri: "/v1/events", method: .post, headers: f.headers("gongan"), body: body(event("g-1")))
            // A wrong method on a known path: 405 with Allow.
            let wrong = try await client.execute(uri: "/v1/persons/11010519491231002X", method: .delete, headers: f.headers("reader"))
            #expect(wrong.status == .methodNotAllowed)
            #expect(wrong.headers[.allow] == "GET, HEAD")
            #expect(try json(wrong)["type"] == "https://yidang.example/problems/method-not-allowed")
            let trace = try await client.execute(uri: "/v1/events", method: .trace, headers: f.headers("gongan"))
            #expect(trace.status == .methodNotAllowed)
            #expect(trace.headers[.allow] == "POST")
            #expect(try await client.execute(uri: "/v1/nowhere", method: .delete, headers: f.headers("reader")).status == .notFound)
            // HEAD where GET works: the same status and headers, no body.
            let get = try await client.execute(uri: "/v1/persons/11010519491231002X", method: .get, headers: f.headers("reader"))
            let head = try await client.execute(uri: "/v1/persons/11010519491231002X", method: .head, headers: f.headers("reader"))
            #expect(get.status == .ok && head.status == .ok, "\(head.status) \(head.headers)")
            #expect(head.body.readableBytes == 0)
            #expect(head.headers[.contentType] == get.headers[.contentType])
            // Personal data is not for caches.
            #expect(get.headers[.cacheControl] == "no-store")
            // A declared length over the limit is refused before the body is read.
            var big = f.headers("gongan")
            big[.contentLength] = "5000000"
            let tooLarge = try await client.execute(uri: "/v1/events", method: .post, headers: big, body: ByteBuffer(string: String(repeating: " ", count: 5000)))
            #expect(tooLarge.status == .contentTooLarge)
            // A batch of which nothing was stored is not a plain 200.
            let allBad = try await client.execute(uri: "/v1/events", method: .post, headers: f.headers("gongan", "application/cloudevents-batch+json"),
                                                  body: body([event("x", data: ["nickname": "a"]), event("y", data: ["nickname": "b"])]))
            #expect(allBad.status == .unprocessableContent)
            #expect(try json(allBad)["rejected"]?.intValue == 2)
        }
    }
}
