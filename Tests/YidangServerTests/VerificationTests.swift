import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JSON
import NIOCore
import Testing
@testable import YidangModel
@testable import YidangServer
@testable import YidangStore

/// `POST /v1/verify` (可用不可见) through the real server: every answer, the verifier role
/// and clearance rules, the rate limit and the audit trail.
@Suite struct VerificationTests {
    static let person = "person/11010519491231002X"

    /// 公安 holds name, birth date, phone and an older address; 住建 holds the current address.
    func seed(_ client: any TestClientProtocol, _ f: Fixture) async throws {
        let events: [JSONValue] = [
            event("g-1", data: ["name": "张三", "gender": "1", "birthDate": "1949-12-31", "phone": "13800138000",
                                "residenceAddress": "浙江省杭州市上城区解放路1号"]),
            event("z-1", source: "zhujian", data: ["residenceAddress": "浙江省杭州市西湖区文三路100号"]),
        ]
        for (e, who) in zip(events, ["gongan", "admin"]) {
            let r = try await client.execute(uri: "/v1/events", method: .post, headers: f.headers(who), body: body(e))
            #expect(r.status == .created)
        }
    }

    func verify(_ client: any TestClientProtocol, token: String, _ request: JSONValue) async throws -> TestResponse {
        var h = HTTPFields()
        h[.authorization] = "Bearer \(token)"
        h[.contentType] = "application/json"
        return try await client.execute(uri: "/v1/verify", method: .post, headers: h, body: body(request))
    }

    func issue(_ f: Fixture, clearance: Sensitivity? = nil, attributes: Set<String>? = nil, name: String = "银行核验") throws -> String {
        try TokenStore(database: f.hub.database).issue(role: .verifier, source: nil, name: name, clearance: clearance, attributes: attributes).token
    }

    @Test func eachClaimIsAnsweredWithoutItsValue() async throws {
        let f = try Fixture()
        defer { f.hub.close() }
        let verifier = try issue(f, clearance: .L3)
        try await f.run { client in
            try await seed(client, f)
            let r = try await verify(client, token: verifier, ["subject": .string(Self.person), "claims": [
                "name": "張 三", "phone": "+86 138-0013-8000", "birthDate": "1949/12/31", "residenceAddress": "杭州市西湖区文三路100号",
                "ethnicity": "汉族", "gender": "2",
            ]])
            #expect(r.status == .ok)
            #expect(r.headers[.cacheControl] == "no-store")
            let answer = try json(r)
            #expect(answer["subject"] == "person/110105********002X")
            #expect(answer["result"] == ["name": "match", "phone": "match", "birthDate": "match", "residenceAddress": "partial",
                                         "ethnicity": "unknown", "gender": "mismatch"])
            #expect(answer["verifiedAt"]?.stringValue.flatMap(Timestamp.parse) != nil)
            let text = String(buffer: r.body)
            for held in ["张三", "13800138000", "1949", "文三路", "解放路", "11010519491231002X"] { #expect(!text.contains(held), "\(held)") }

            // A homophone and another department's address are partial; a different name is not.
            let near = try json(try await verify(client, token: verifier, ["subject": .string(Self.person), "claims": [
                "name": "张叁", "residenceAddress": "浙江省杭州市上城区解放路1号"]]))
            #expect(near["result"] == ["name": "partial", "residenceAddress": "partial"])
            let wrong = try json(try await verify(client, token: verifier, ["subject": .string(Self.person), "claims": [
                "name": "李四", "residenceAddress": "北京市朝阳区建国路88号", "birthDate": "1949-12-30"]]))
            #expect(wrong["result"] == ["name": "mismatch", "residenceAddress": "mismatch", "birthDate": "mismatch"])

            // A subject the hub does not know: nothing held, every claim unknown.
            let stranger = try json(try await verify(client, token: verifier, ["subject": "person/110105198001011238", "claims": ["name": "张三"]]))
            #expect(stranger["result"] == ["name": "unknown"])
        }
    }

    @Test func theRoleClearanceAndAllowListBound() async throws {
        let f = try Fixture()
        defer { f.hub.close() }
        let plain = try issue(f)                                              // L2 by default
        let bank = try issue(f, clearance: .L3, attributes: ["name", "phone"])
        try await f.run { client in
            try await seed(client, f)
            let claim: JSONValue = ["subject": .string(Self.person), "claims": ["name": "张三"]]
            #expect(try await verify(client, token: f.tokens["reader"]!, claim).status == .forbidden)
            #expect(try await verify(client, token: f.tokens["gongan"]!, claim).status == .forbidden)
            #expect(try await verify(client, token: plain, claim).status == .ok)
            #expect(try await verify(client, token: f.tokens["admin"]!, claim).status == .ok)

            let aboveClearance = try await verify(client, token: plain, ["subject": .string(Self.person), "claims": ["name": "张三", "birthDate": "1949-12-31"]])
            #expect(aboveClearance.status == .forbidden)
            #expect(try json(aboveClearance)["field"] == "claims.birthDate")
            #expect(try json(aboveClearance)["detail"]?.stringValue?.contains("L3") == true)
            let outsideList = try await verify(client, token: bank, ["subject": .string(Self.person), "claims": ["birthDate": "1949-12-31"]])
            #expect(outsideList.status == .forbidden)
            #expect(try json(outsideList)["field"] == "claims.birthDate")
            #expect(try await verify(client, token: bank, ["subject": .string(Self.person), "claims": ["phone": "13800138000"]]).status == .ok)
        }
    }

    @Test func badRequestsNameTheField() async throws {
        let f = try Fixture()
        defer { f.hub.close() }
        let verifier = try issue(f, clearance: .L3)
        try await f.run { client in
            try await seed(client, f)
            let cases: [(JSONValue, String)] = [
                (["subject": .string(Self.person), "claims": ["shoeSize": "42"]], "claims.shoeSize"),
                (["subject": "person/110105194912310022", "claims": ["name": "张三"]], "subject"),
                (["subject": "company/x", "claims": ["name": "张三"]], "subject"),
                (["subject": .string(Self.person), "claims": [:]], "claims"),
                (["subject": .string(Self.person), "claims": ["phone": "call me"]], "claims.phone"),
                (["subject": .string(Self.person), "claims": ["name": 3]], "claims.name"),
                (["claims": ["name": "张三"]], "subject"),
                (["subject": .string(Self.person), "claims": ["name": "张三"], "reason": "kyc"], "reason"),
            ]
            for (request, field) in cases {
                let r = try await verify(client, token: verifier, request)
                #expect(r.status == .badRequest, "\(field)")
                #expect(r.headers[.contentType] == "application/problem+json")
                #expect(try json(r)["field"]?.stringValue == field)
            }
            var h = HTTPFields()
            h[.authorization] = "Bearer \(verifier)"
            let malformed = try await client.execute(uri: "/v1/verify", method: .post, headers: h, body: ByteBuffer(string: "{\"subject\":"))
            #expect(malformed.status == .badRequest)
            // None of the refused requests was audited as a verification.
            let audit = try json(try await client.execute(uri: "/v1/audit", method: .get, headers: f.headers("admin")))
            #expect(!(audit["entries"]?.arrayValue ?? []).contains { $0["action"] == "verify" })
        }
    }
}

/// The limits against enumeration, with a configuration of 3 claims a minute and an alert
/// at 3 verifications with a mismatch.
@Suite struct VerificationLimitTests {
    func hub() throws -> (Hub, [String: String]) {
        let dir = tempDir()
        let yaml = DefaultConfiguration.yaml.replacingOccurrences(of: "claimsPerMinute: 60", with: "claimsPerMinute: 3")
            .replacingOccurrences(of: "mismatchAlert: 5", with: "mismatchAlert: 3")
        try yaml.write(toFile: dir + "-config.yaml", atomically: true, encoding: .utf8)
        let hub = try Hub(directory: dir, configPath: dir + "-config.yaml")
        #expect(hub.configuration.verificationLimits == VerificationSettings(claimsPerMinute: 3, mismatchAlert: 3, alertWindowMinutes: 10))
        let store = TokenStore(database: hub.database)
        return (hub, ["admin": try store.create(role: .admin, source: nil, name: "ops"),
                      "gongan": try store.create(role: .publisher, source: "gongan", name: "公安"),
                      "bank": try store.create(role: .verifier, source: nil, name: "银行核验"),
                      "school": try store.create(role: .verifier, source: nil, name: "学校核验")])
    }

    func post(_ client: any TestClientProtocol, _ token: String?, _ path: String, _ value: JSONValue, type: String = "application/json") async throws -> TestResponse {
        var h = HTTPFields()
        if let token { h[.authorization] = "Bearer \(token)" }
        h[.contentType] = type
        return try await client.execute(uri: path, method: .post, headers: h, body: body(value))
    }

    @Test func aTokenOverItsClaimsPerMinuteIsTold429WithRetryAfter() async throws {
        let (hub, tokens) = try hub()
        defer { hub.close() }
        let app = try await YidangServer.application(hub: hub, options: { var o = ServerOptions(); o.port = 0; return o }())
        try await app.test(.live) { client in
            let two: JSONValue = ["subject": "person/11010519491231002X", "claims": ["name": "张三", "gender": "1"]]
            #expect(try await post(client, tokens["bank"], "/v1/verify", two).status == .ok)
            let refused = try await post(client, tokens["bank"], "/v1/verify", two)
            #expect(refused.status == .tooManyRequests)
            let wait = try #require(refused.headers[.retryAfter].flatMap { Int($0) })
            #expect((1...60).contains(wait))
            #expect(try json(refused)["type"] == "https://yidang.example/problems/rate-limited")
            // Per token: another verifier is not held back.
            #expect(try await post(client, tokens["school"], "/v1/verify", two).status == .ok)
            // More claims than a minute allows can never pass: a 400, not a retry.
            let tooMany: JSONValue = ["subject": "person/11010519491231002X", "claims": ["name": "张三", "gender": "1", "regionCode": "110105", "status": "alive"]]
            let over = try await post(client, tokens["school"], "/v1/verify", tooMany)
            #expect(over.status == .badRequest)
            #expect(try json(over)["field"] == "claims")
        }
    }

    @Test func everyVerificationIsAuditedAndABurstOfMismatchesIsFlagged() async throws {
        let (hub, tokens) = try hub()
        defer { hub.close() }
        let app = try await YidangServer.application(hub: hub, options: { var o = ServerOptions(); o.port = 0; return o }())
        try await app.test(.live) { client in
            let e = event("g-1", data: ["name": "张三", "gender": "1"])
            #expect(try await post(client, tokens["gongan"], "/v1/events", e, type: "application/cloudevents+json").status == .created)
            // Guessing the gender: two wrong tries by the bank, one by the school.
            for (token, guess) in [("bank", "2"), ("bank", "9"), ("school", "0")] {
                let r = try await post(client, tokens[token], "/v1/verify", ["subject": "person/11010519491231002X", "claims": ["gender": .string(guess)]])
                #expect(r.status == .ok)
                #expect(try json(r)["result"]?["gender"] == "mismatch")
            }
            let audit = try json(try await client.execute(uri: "/v1/audit?limit=50", method: .get,
                                                          headers: [.authorization: "Bearer \(tokens["admin"]!)"]))
            let entries = audit["entries"]?.arrayValue ?? []
            let verifications = entries.filter { $0["action"] == "verify" }
            #expect(verifications.count == 3)
            #expect(verifications.allSatisfy { $0["subject"] == "person/11010519491231002X" && $0["results"]?["gender"] == "mismatch" })
            #expect(Set(verifications.compactMap { $0["caller"]?.stringValue }) == ["银行核验", "学校核验"])
            #expect(verifications.allSatisfy { $0["token"]?.stringValue?.hasPrefix("tok_") == true })
            let alerts = entries.filter { $0["action"] == "verify.alert" }
            #expect(alerts.count == 1)
            #expect(alerts.first?["subject"] == "person/11010519491231002X")
            #expect(alerts.first?["callers"] == ["学校核验", "银行核验"])
            let metrics = String(buffer: try await client.execute(uri: "/metrics", method: .get).body)
            #expect(metrics.contains("yidang_verification_alerts_total 1"))
            #expect(metrics.contains(#"yidang_verification_claims_total{result="mismatch"} 3"#))
        }
    }
}
