import Foundation
import JSON
import Testing

/// Tokens, the audit trail and verification from the CLI, locally and against a running hub.
@Suite(.serialized) struct AccessCLITests {
    static let event = #"{"specversion":"1.0","id":"g1","source":"gongan","type":"person.updated","subject":"person/11010519491231002X","time":"2026-11-20T08:00:00+08:00","data":{"name":"张三","gender":"1","phone":"13800138000"}}"#

    @Test func verifyClaimsAndTokenLifecycleLocallyAndRemotely() async throws {
        let dir = CLI.tempDir()
        let data = dir + "/data"
        try (Self.event + "\n").write(toFile: dir + "/e.ndjson", atomically: true, encoding: .utf8)
        #expect(try CLI.run(["import", dir + "/e.ndjson", "--data", data]).status == 0)

        // Local: answered and audited, the value never printed.
        let local = try CLI.run(["verify-claims", "person/11010519491231002X", "name=張三", "phone=13900139000", "ethnicity=汉族", "--json", "--data", data])
        #expect(local.status == 0, "\(local.stderr)")
        let answer = try JSONParser.parse(local.stdout)
        #expect(answer["result"] == ["name": "match", "phone": "mismatch", "ethnicity": "unknown"])
        #expect(!local.stdout.contains("13800138000"))
        let table = try CLI.run(["verify-claims", "person/11010519491231002X", "name=张叁", "--data", data])
        #expect(table.stdout.contains("partial"))
        let bad = try CLI.run(["verify-claims", "person/11010519491231002X", "shoeSize=42", "--data", data])
        #expect(bad.status == 1)
        #expect(bad.stderr.contains("claims.shoeSize"))
        #expect(bad.stderr.split(separator: "\n").count == 1)
        #expect(try CLI.run(["verify-claims", "person/11010519491231002X", "--data", data]).status == 1)
        let localAudit = try JSONParser.parse(try CLI.run(["audit", "--json", "--data", data]).stdout).arrayValue ?? []
        #expect(localAudit.filter { $0["action"] == "verify" }.count == 2)

        // Tokens created locally, with an id, an expiry and an allow-list.
        let admin = try CLI.run(["tokens", "create", "--role", "admin", "--name", "ops", "--data", data]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let created = try CLI.run(["tokens", "create", "--role", "verifier", "--name", "银行核验", "--clearance", "L3",
                                   "--attribute", "name", "--attribute", "phone", "--expires", "30d", "--json", "--data", data])
        #expect(created.status == 0, "\(created.stderr)")
        let bank = try JSONParser.parse(created.stdout)
        let bankToken = try #require(bank["token"]?.stringValue)
        let bankId = try #require(bank["id"]?.stringValue)
        #expect(bank["attributes"] == ["name", "phone"])
        let refused = try CLI.run(["tokens", "create", "--role", "reader", "--expires", "tomorrow", "--data", data])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("expires"))

        let server = try ServerProcess(data: data)
        defer { server.stop() }
        let url = "http://127.0.0.1:\(server.port)"
        func remote(_ args: [String], token: String) throws -> CLI.Result { try CLI.run(args + ["--server", url, "--token", token]) }

        let remoteAnswer = try remote(["verify-claims", "person/11010519491231002X", "name=张三", "phone=138 0013 8000", "--json"], token: bankToken)
        #expect(remoteAnswer.status == 0, "\(remoteAnswer.stderr)")
        #expect(try JSONParser.parse(remoteAnswer.stdout)["result"] == ["name": "match", "phone": "match"])
        #expect(try JSONParser.parse(remoteAnswer.stdout)["subject"] == "person/110105********002X")
        let outside = try remote(["verify-claims", "person/11010519491231002X", "gender=1"], token: bankToken)
        #expect(outside.status == 4)
        #expect(outside.stderr.contains("claims.gender"))

        // Listed remotely with its use; revoked remotely; refused at once.
        let listed = try JSONParser.parse(try remote(["tokens", "list", "--json"], token: admin).stdout).arrayValue ?? []
        let row = try #require(listed.first { $0["id"]?.stringValue == bankId })
        #expect(row["lastUsed"]?.stringValue != nil)
        #expect(row["expires"]?.stringValue != nil)
        let human = try remote(["tokens", "list"], token: admin).stdout
        #expect(human.contains(bankId) && human.contains("银行核验") && !human.contains(bankToken))
        let revoked = try remote(["tokens", "revoke", bankId], token: admin)
        #expect(revoked.status == 0, "\(revoked.stderr)")
        #expect(revoked.stdout.contains(bankId))
        #expect(try remote(["verify-claims", "person/11010519491231002X", "name=张三"], token: bankToken).status == 4)
        #expect(try remote(["tokens", "revoke", bankId], token: admin).status == 3)

        // An online backup of the serving hub, restored and verified.
        let backedUp = try remote(["backup", dir + "/backup"], token: admin)
        #expect(backedUp.status == 0, "\(backedUp.stderr)")
        #expect(try remote(["backup", dir + "/backup"], token: admin).status == 1)   // exists already
        #expect(try CLI.run(["restore", dir + "/backup", "--data", dir + "/restored"]).status == 0)
        #expect(try CLI.run(["verify", "--data", dir + "/restored"]).status == 0)
        // The backup and the served directory it came from hold the same log and derived state.
        let restoredDigest = try JSONParser.parse(try CLI.run(["verify", "--json", "--data", dir + "/restored"]).stdout)
        let servedDigest = try JSONParser.parse(try CLI.run(["verify", "--json", "--data", data]).stdout)
        #expect(restoredDigest["ok"] == true && servedDigest["ok"] == true)
        #expect(restoredDigest["digest"]?.stringValue?.count == 64)
        #expect(restoredDigest["digest"] == servedDigest["digest"])
        #expect(restoredDigest["head"]?.intValue == 1)
        let restored = try CLI.run(["person", "show", "11010519491231002X", "--json", "--data", dir + "/restored"])
        #expect(try JSONParser.parse(restored.stdout)["attributes"]?["name"]?["value"] == "张三")

        let audit = try JSONParser.parse(try remote(["audit", "--json", "--limit", "20"], token: admin).stdout).arrayValue ?? []
        #expect(audit.contains { $0["action"] == "verify" && $0["caller"] == "银行核验" && $0["results"]?["phone"] == "match" })
        #expect(audit.contains { $0["action"] == "token.revoke" && $0["detail"]?.stringValue == bankId })
    }
}

/// Local read commands work on a directory a hub is serving; commands that write say in
/// one line which hub holds it and what to do instead.
@Suite(.serialized) struct ServedDirectoryTests {
    @Test func readsWorkAndWritesPointToTheServingHub() async throws {
        let dir = CLI.tempDir()
        let data = dir + "/data"
        let events = [
            AccessCLITests.event,
            #"{"specversion":"1.0","id":"r1","source":"renshe","type":"person.updated","subject":"person/11010519491231002X","time":"2026-11-21T10:00:00+08:00","data":{"name":"张叁"}}"#,
        ]
        try (events.joined(separator: "\n") + "\n").write(toFile: dir + "/e.ndjson", atomically: true, encoding: .utf8)
        let admin = try CLI.run(["tokens", "create", "--role", "admin", "--data", data]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let server = try ServerProcess(data: data)
        defer { server.stop() }
        let url = "http://127.0.0.1:\(server.port)"
        #expect(try CLI.run(["import", dir + "/e.ndjson", "--server", url, "--token", admin]).status == 0)

        for args in [["person", "show", "11010519491231002X", "--json"], ["history", "person/11010519491231002X"], ["conflicts", "list"],
                     ["conflicts", "show", "1"], ["changes", "--json"], ["quality"], ["tokens", "list"], ["audit"], ["verify"]] {
            let r = try CLI.run(args + ["--data", data])
            #expect(r.status == 0, "\(args): \(r.stderr)")
            #expect(!r.stderr.contains("LOCK"), "\(args)")
        }
        let record = try JSONParser.parse(try CLI.run(["person", "show", "11010519491231002X", "--json", "--data", data]).stdout)
        #expect(record["attributes"]?["name"]?["value"] == "张三")
        #expect(record["attributes"]?["name"]?["conflict"] == true)

        for args in [["import", dir + "/e.ndjson"], ["tokens", "create", "--role", "reader"], ["conflicts", "resolve", "1", "--accept"],
                     ["verify-claims", "person/11010519491231002X", "name=张三"], ["rebuild"], ["backup", dir + "/b"]] {
            let r = try CLI.run(args + ["--data", data])
            #expect(r.status == 1, "\(args)")
            #expect(r.stderr.split(separator: "\n").count == 1, "\(args): \(r.stderr)")
            #expect(r.stderr.contains("held by a running hub (\(url), pid \(server.process.processIdentifier))"), "\(args): \(r.stderr)")
            #expect(r.stderr.contains("--server \(url)"), "\(args)")
            #expect(!r.stderr.contains("LOCK"), "\(args)")
        }
        // What the hub accepts after a read is seen by the next read.
        let later = #"{"specversion":"1.0","id":"g2","source":"gongan","type":"person.updated","subject":"person/11010519491231002X","time":"2026-11-22T10:00:00+08:00","data":{"phone":"13900139000"}}"#
        try (later + "\n").write(toFile: dir + "/later.ndjson", atomically: true, encoding: .utf8)
        #expect(try CLI.run(["import", dir + "/later.ndjson", "--server", url, "--token", admin]).status == 0)
        let after = try JSONParser.parse(try CLI.run(["person", "show", "11010519491231002X", "--json", "--data", data]).stdout)
        #expect(after["attributes"]?["phone"]?["value"] == "13900139000")
    }
}
