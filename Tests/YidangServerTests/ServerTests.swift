import Foundation
import Hummingbird
import HummingbirdTesting
import JSON
import NIOCore
import Testing
import TestSupport
import YidangModel
@testable import YidangServer
@testable import YidangStore

func tempDir(_ name: String = #function) -> String {
    TestDirectories.make("http", for: name)
}

/// A hub with one token per role, served live on a loopback port.
struct Fixture {
    let hub: Hub
    let tokens: [String: String]

    init() throws {
        hub = try Hub(directory: tempDir())
        let store = TokenStore(database: hub.database)
        tokens = [
            "admin": try store.create(role: .admin, source: nil, name: "ops"),
            "gongan": try store.create(role: .publisher, source: "gongan", name: "公安"),
            "renshe": try store.create(role: .publisher, source: "renshe", name: "人社"),
            "reader": try store.create(role: .reader, source: nil, name: "窗口"),
            "steward": try store.create(role: .steward, source: nil, name: "王芳"),
            "subscriber": try store.create(role: .subscriber, source: nil, name: "网格"),
        ]
    }

    func run<T: Sendable>(options: ServerOptions = ServerOptions(), _ body: @Sendable (any TestClientProtocol) async throws -> T) async throws -> T {
        var o = options
        o.port = 0
        let app = try await YidangServer.application(hub: hub, options: o)
        return try await app.test(.live, body)
    }

    func headers(_ who: String?, _ contentType: String? = "application/cloudevents+json") -> HTTPFields {
        var h = HTTPFields()
        if let who, let t = tokens[who] { h[.authorization] = "Bearer \(t)" }
        if let contentType { h[.contentType] = contentType }
        return h
    }
}

func event(_ id: String, source: String = "gongan", subject: String = "person/11010519491231002X", data: JSONValue = ["name": "张三"]) -> JSONValue {
    ["specversion": "1.0", "id": .string(id), "source": .string(source), "type": "person.updated", "subject": .string(subject),
     "time": "2026-11-20T08:00:00+08:00", "data": data]
}

func body(_ v: JSONValue) -> ByteBuffer { ByteBuffer(bytes: JSONWriter.bytes(v)) }
func json(_ r: TestResponse) throws -> JSONValue { try JSONParser.parse(Array(r.body.readableBytesView)) }

@Suite struct PublishTests {
    @Test func singleBatchAndNDJSONEachReportPerEvent() async throws {
        let f = try Fixture()
        defer { f.hub.close() }
        try await f.run { client in
            let one = try await client.execute(uri: "/v1/events", method: .post, headers: f.headers("gongan"), body: body(event("a")))
            #expect(one.status == .created)
            #expect(try json(one)["position"]?.intValue == 1)
            let dup = try await client.execute(uri: "/v1/events", method: .post, headers: f.headers("gongan"), body: body(event("a")))
            #expect(dup.status == .ok)
            #expect(try json(dup)["status"] == "duplicate")

            let batch = try await client.execute(uri: "/v1/events", method: .post, headers: f.headers("gongan", "application/cloudevents-batch+json"),
                                                 body: body([event("b"), event("c", data: ["nickname": "x"]), event("a"), event("d", source: "renshe")]))
            #expect(batch.status == .ok)
            let results = try json(batch)["results"]?.arrayValue ?? []
            #expect(results.map { $0["status"]?.stringValue ?? "" } == ["accepted", "rejected", "duplicate", "rejected"])
            #expect(results[1]["problem"]?["field"] == "data.nickname")
            #expect(results[3]["problem"]?["type"] == "https://yidang.example/problems/forbidden-source")

            let nd = [event("e"), event("f")].map { JSONWriter.serialize($0) }.joined(separator: "\n") + "\n{oops\n"
            let ndr = try await client.execute(uri: "/v1/events", method: .post, headers: f.headers("gongan", "application/x-ndjson"),
                                               body: ByteBuffer(string: nd))
            #expect(try json(ndr)["accepted"]?.intValue == 2)
            #expect(try json(ndr)["rejected"]?.intValue == 1)
        }
        #expect(try f.hub.reader.headPosition() == 4)
    }

    @Test func badInputGetsItsOwn4xxAndStoresNothing() async throws {
        let f = try Fixture()
        defer { f.hub.close() }
        var small = ServerOptions()
        small.maxBodyBytes = 1000
        try await f.run(options: small) { client in
            func post(_ b: ByteBuffer, _ type: String? = "application/cloudevents+json") async throws -> TestResponse {
                try await client.execute(uri: "/v1/events", method: .post, headers: f.headers("gongan", type), body: b)
            }
            let cases: [(TestResponse, HTTPResponse.Status, String)] = [
                (try await post(ByteBuffer(string: "{\"specversion\":")), .badRequest, "malformed-json"),
                (try await post(ByteBuffer(bytes: Array("{\"id\":\"".utf8) + [0xFF, 0xFE] + Array("\"}".utf8))), .badRequest, "malformed-json"),
                (try await post(ByteBuffer(string: String(repeating: " ", count: 2000) + "{}")), .contentTooLarge, "body-too-large"),
                (try await post(body(event("x")), "text/xml"), .unsupportedMediaType, "unsupported-media-type"),
                (try await post(body(event("x", subject: "person/36042619910102009X"))), .unprocessableContent, "invalid-identifier"),
                (try await post(body(event("x", source: "renshe"))), .forbidden, "forbidden-source"),
                (try await post(body([event("x")])), .badRequest, "unexpected-batch"),
                (try await post(ByteBuffer(string: "{}"), "application/cloudevents-batch+json"), .badRequest, "not-a-batch"),
            ]
            for (response, status, type) in cases {
                #expect(response.status == status, "\(type)")
                #expect(response.headers[.contentType] == "application/problem+json")
                #expect(try json(response)["type"]?.stringValue == "https://yidang.example/problems/" + type)
            }
            let bad = try await client.execute(uri: "/v1/persons/110105194912310021", method: .get, headers: f.headers("reader"))
            #expect(bad.status == .badRequest)
            #expect(try json(bad)["field"] == "id")
        }
        #expect(try f.hub.reader.headPosition() == 0)
    }
}

@Suite struct RoleTests {
    @Test func eachRoleMayDoOnlyItsWork() async throws {
        let f = try Fixture()
        defer { f.hub.close() }
        try await f.run { client in
            _ = try await client.execute(uri: "/v1/events", method: .post, headers: f.headers("gongan"), body: body(event("a")))
            let person = "/v1/persons/11010519491231002X"
            #expect(try await client.execute(uri: person, method: .get, headers: f.headers(nil)).status == .unauthorized)
            var forged = HTTPFields()
            forged[.authorization] = "Bearer yd_forged"
            #expect(try await client.execute(uri: person, method: .get, headers: forged).status == .unauthorized)
            #expect(try await client.execute(uri: person, method: .get, headers: f.headers("gongan")).status == .forbidden)
            #expect(try await client.execute(uri: person, method: .get, headers: f.headers("reader")).status == .ok)
            #expect(try await client.execute(uri: person, method: .get, headers: f.headers("steward")).status == .ok)
            #expect(try await client.execute(uri: "/v1/conflicts", method: .get, headers: f.headers("reader")).status == .forbidden)
            #expect(try await client.execute(uri: "/v1/conflicts", method: .get, headers: f.headers("steward")).status == .ok)
            #expect(try await client.execute(uri: "/v1/events", method: .post, headers: f.headers("reader"), body: body(event("z"))).status == .forbidden)
            #expect(try await client.execute(uri: "/v1/tokens", method: .get, headers: f.headers("steward")).status == .forbidden)
            #expect(try await client.execute(uri: "/healthz", method: .get, headers: f.headers(nil)).status == .ok)
            let audit = try await client.execute(uri: "/v1/audit", method: .get, headers: f.headers("admin"))
            let entries = try json(audit)["entries"]?.arrayValue ?? []
            #expect(entries.contains { $0["caller"] == "窗口" && $0["action"] == "read" && $0["subject"] == "person/11010519491231002X" })
        }
    }
}

@Suite struct StewardHTTPTests {
    @Test func settleAConflictOverHTTP() async throws {
        let f = try Fixture()
        defer { f.hub.close() }
        try await f.run { client in
            _ = try await client.execute(uri: "/v1/events", method: .post, headers: f.headers("gongan"), body: body(event("g")))
            _ = try await client.execute(uri: "/v1/events", method: .post, headers: f.headers("renshe"),
                                         body: body(event("r", source: "renshe", data: ["name": "张叁"])))
            let list = try json(try await client.execute(uri: "/v1/conflicts?attribute=name", method: .get, headers: f.headers("steward")))
            let id = try #require(list["conflicts"]?.arrayValue?.first?["id"]?.intValue)
            let record = try json(try await client.execute(uri: "/v1/persons/110105491231002?lineage=true", method: .get, headers: f.headers("reader")))
            #expect(record["attributes"]?["name"]?["conflict"] == true)
            #expect(record["attributes"]?["name"]?["lineage"]?.arrayValue?.count == 2)

            let bad = try await client.execute(uri: "/v1/conflicts/\(id)/resolve", method: .post, headers: f.headers("steward", "application/json"),
                                               body: body(["action": "reject", "source": "yibao"]))
            #expect(bad.status == .unprocessableContent)
            let ok = try await client.execute(uri: "/v1/conflicts/\(id)/resolve", method: .post, headers: f.headers("steward", "application/json"),
                                              body: body(["action": "reject", "source": "renshe", "note": "以公安为准"]))
            #expect(ok.status == .ok)
            #expect(try json(ok)["resolution"]?["steward"] == "王芳")
            let again = try await client.execute(uri: "/v1/conflicts/\(id)/resolve", method: .post, headers: f.headers("steward", "application/json"),
                                                 body: body(["action": "accept"]))
            #expect(again.status == .conflict)
            #expect(try await client.execute(uri: "/v1/conflicts/999", method: .get, headers: f.headers("steward")).status == .notFound)
            let quality = try json(try await client.execute(uri: "/v1/quality", method: .get, headers: f.headers("steward")))
            let renshe = quality["departments"]?.arrayValue?.first { $0["department"] == "renshe" }
            #expect(renshe?["corrections"]?.intValue == 1)
            #expect(renshe?["conflictsOpened"]?.intValue == 1)
            let asOf = try await client.execute(uri: "/v1/persons/11010519491231002X?asOf=2020-01-01T00:00:00Z", method: .get, headers: f.headers("reader"))
            #expect(asOf.status == .notFound)
            let metrics = try await client.execute(uri: "/metrics", method: .get)
            let text = String(buffer: metrics.body)
            #expect(text.contains("yidang_events_total{department=\"gongan\",result=\"accepted\"} 1"))
            #expect(text.contains("yidang_conflicts_open 0"))
            #expect(text.contains("yidang_commit_seconds"))
            // Every durable group is timed in both serial stages: the writer's build and the write.
            func count(_ name: String) -> Int? {
                text.split(separator: "\n").first { $0.hasPrefix("\(name)_count ") }.flatMap { Int($0.split(separator: " ")[1]) }
            }
            #expect((count("yidang_group_build_seconds") ?? 0) > 0)
            #expect(count("yidang_group_build_seconds") == count("yidang_commit_seconds"))
            #expect(text.contains("yidang_http_request_duration_seconds"))
        }
    }
}

@Suite struct OpenAPITests {
    /// Every route the router serves is in Schemas/openapi.yaml, and the reverse; and each
    /// listed route answers (not 404) on the real server.
    @Test func specAndRouterAgree() async throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Schemas/openapi.yaml")
        let spec = try SpecRoutes.load(url)
        #expect(spec == Set(YidangServer.routes))
        let f = try Fixture()
        defer { f.hub.close() }
        try await f.run { client in
            for route in YidangServer.routes {
                let parts = route.split(separator: " ")
                let path = String(parts[1]).replacingOccurrences(of: "{uscc}", with: "91310115MA1K3BTP2B").replacingOccurrences(of: "{id}", with: route.contains("enterprises") ? "91310115MA1K3BTP2B"
                                                                   : route.contains("conflicts") ? "1" : "11010519491231002X")
                let method: HTTPRequest.Method = parts[0] == "GET" ? .get : parts[0] == "DELETE" ? .delete : .post
                let r = try await client.execute(uri: path, method: method, headers: f.headers("admin", "application/json"),
                                                 body: ByteBuffer(string: "{}"))
                if r.status == .notFound {
                    // a 404 must be the hub's own "no such record" problem, not an unknown route
                    #expect(try json(r)["type"] == "https://yidang.example/problems/not-found", "\(route)")
                    #expect(try json(r)["detail"]?.stringValue != "Not Found", "\(route)")
                }
            }
            let unknown = try await client.execute(uri: "/v1/nothing", method: .get, headers: f.headers("admin"))
            #expect(unknown.status == .notFound)
        }
    }
}
