import Foundation
import Synchronization
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JSON
import NIOCore
import Testing
import YidangModel
@testable import YidangServer
@testable import YidangStore

/// Tokens have ids, are listed without their secret, expire, and are cut off at once when
/// revoked, including a token the server has already cached.
@Suite struct TokenLifecycleTests {
    func call(_ client: any TestClientProtocol, _ method: HTTPRequest.Method, _ path: String, token: String, _ value: JSONValue? = nil) async throws -> TestResponse {
        var h = HTTPFields()
        h[.authorization] = "Bearer \(token)"
        if value != nil { h[.contentType] = "application/json" }
        return try await client.execute(uri: path, method: method, headers: h, body: value.map(body))
    }

    @Test func aRevokedTokenIsRefusedFromItsNextRequestOn() async throws {
        let f = try Fixture()
        defer { f.hub.close() }
        let admin = f.tokens["admin"]!
        try await f.run { client in
            let created = try await call(client, .post, "/v1/tokens", token: admin, ["role": "steward", "name": "李明", "expires": "90d"])
            #expect(created.status == .created)
            let issued = try json(created)
            let token = try #require(issued["token"]?.stringValue)
            let id = try #require(issued["id"]?.stringValue)
            #expect(id.hasPrefix("tok_"))
            #expect(issued["role"] == "steward")
            #expect(issued["clearance"] == "L3")
            let expires = try #require(issued["expires"]?.stringValue.flatMap(Timestamp.parse))
            #expect(abs(expires - Timestamp.now() - 90 * 86_400_000_000) < 60_000_000)

            // Used (and so cached by the server), then listed with its use.
            #expect(try await call(client, .get, "/v1/conflicts", token: token).status == .ok)
            let listed = try json(try await call(client, .get, "/v1/tokens", token: admin))["tokens"]?.arrayValue ?? []
            let entry = try #require(listed.first { $0["id"]?.stringValue == id })
            #expect(entry["name"] == "李明")
            #expect(entry["lastUsed"]?.stringValue != nil)
            #expect(entry["created"]?.stringValue.flatMap(Timestamp.parse) != nil)
            #expect(listed.count == f.tokens.count + 1)
            let text = String(buffer: try await call(client, .get, "/v1/tokens", token: admin).body)
            #expect(!text.contains(token) && !text.contains("digest"))

            let revoked = try await call(client, .delete, "/v1/tokens/\(id)", token: admin)
            #expect(revoked.status == .ok)
            #expect(try json(revoked)["id"]?.stringValue == id)
            #expect(try await call(client, .get, "/v1/conflicts", token: token).status == .unauthorized)
            #expect(try await call(client, .delete, "/v1/tokens/\(id)", token: admin).status == .notFound)
            #expect(try await call(client, .delete, "/v1/tokens/\(id)", token: f.tokens["steward"]!).status == .forbidden)
            let audit = try json(try await call(client, .get, "/v1/audit", token: admin))["entries"]?.arrayValue ?? []
            #expect(audit.contains { $0["action"] == "token.revoke" && $0["detail"]?.stringValue == id })
        }
    }

    @Test func anExpiredTokenIsRefused() async throws {
        let f = try Fixture()
        defer { f.hub.close() }
        let store = TokenStore(database: f.hub.database)
        // The server judges expiry by a clock the test moves: no race with a slow machine.
        let offset = ClockOffset()
        var options = ServerOptions()
        options.clock = { Timestamp.now() + offset.value.withLock { $0 } }
        let brief = try store.issue(role: .steward, source: nil, name: "brief", expires: Timestamp.now() + 3_600_000_000).token
        try await f.run(options: options) { (client: any TestClientProtocol) async throws -> Void in
            #expect(try await call(client, .get, "/v1/conflicts", token: brief).status == .ok)
            // Cached by now; expiry is still checked on every request.
            offset.value.withLock { $0 = 3_600_000_000 + 1_000_000 }
            #expect(try await call(client, .get, "/v1/conflicts", token: brief).status == .unauthorized)
            offset.value.withLock { $0 = 0 }
            #expect(try await call(client, .get, "/v1/conflicts", token: brief).status == .ok)
        }
    }

    @Test func aTokenRequestIsCheckedFieldByField() async throws {
        let f = try Fixture()
        defer { f.hub.close() }
        try await f.run { client in
            let cases: [(JSONValue, String)] = [
                (["role": "root"], "role"),
                (["role": "publisher"], "source"),
                (["role": "publisher", "source": "nowhere"], "source"),
                (["role": "reader", "clearance": "L9"], "clearance"),
                (["role": "reader", "expires": "soon"], "expires"),
                (["role": "reader", "expires": "2020-01-01T00:00:00Z"], "expires"),
                (["role": "reader", "attributes": ["name"]], "attributes"),
                (["role": "verifier", "attributes": ["name", "shoeSize"]], "attributes[1]"),
                (["role": "verifier", "scope": "all"], "scope"),
            ]
            for (request, field) in cases {
                let r = try await call(client, .post, "/v1/tokens", token: f.tokens["admin"]!, request)
                #expect(r.status == .unprocessableContent, "\(request)")
                #expect(try json(r)["field"]?.stringValue == field, "\(request)")
            }
            let listed = try json(try await call(client, .get, "/v1/tokens", token: f.tokens["admin"]!))["tokens"]?.arrayValue ?? []
            #expect(listed.count == f.tokens.count)   // nothing stored
            let verifier = try json(try await call(client, .post, "/v1/tokens", token: f.tokens["admin"]!,
                                                   ["role": "verifier", "clearance": "L3", "attributes": ["phone", "name"]]))
            #expect(verifier["attributes"] == ["name", "phone"])
            #expect(verifier["expires"] == .null)
        }
    }
}

/// How far a test has moved the server's clock.
final class ClockOffset: Sendable {
    let value = Mutex<Int64>(0)
}
