import Foundation
import JSON
import Testing

@Suite(.serialized) struct RemoteCLITests {
    static let events = [
        #"{"specversion":"1.0","id":"g1","source":"gongan","type":"person.updated","subject":"person/11010519491231002X","time":"2026-11-20T08:00:00+08:00","data":{"name":"张三","gender":"1","regionCode":"110105","residenceAddress":"朝阳区建国路88号"}}"#,
        #"{"specversion":"1.0","id":"z1","source":"zhujian","type":"person.updated","subject":"person/110105491231002","time":"2026-11-21T09:00:00+08:00","data":{"residenceAddress":"海淀区中关村1号"}}"#,
        #"{"specversion":"1.0","id":"r1","source":"renshe","type":"person.updated","subject":"person/11010519491231002x","time":"2026-11-21T10:00:00+08:00","data":{"name":"张叁","employer":"91310115MA1K3BTP2B"}}"#,
        #"{"specversion":"1.0","id":"bad","source":"gongan","type":"person.updated","subject":"person/11010519491231002X","time":"2026-11-21T10:00:00+08:00","data":{"nickname":"三儿"}}"#,
    ]

    /// The same steward session locally and against a server prints the same thing, and the
    /// human output matches the committed golden file.
    @Test func remoteAndLocalModePrintTheSame() async throws {
        let dir = CLI.tempDir()
        let data = dir + "/data"
        try (Self.events.joined(separator: "\n") + "\n").write(toFile: dir + "/e.ndjson", atomically: true, encoding: .utf8)
        func token(_ args: [String]) throws -> String {
            try CLI.run(["tokens", "create", "--data", data] + args).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let admin = try token(["--role", "admin", "--name", "ops"])
        let steward = try token(["--role", "steward", "--name", "王芳"])
        let renshe = try token(["--role", "subscriber", "--source", "renshe", "--name", "人社订阅"])
        let server = try ServerProcess(data: data)
        let url = "http://127.0.0.1:\(server.port)"
        func remote(_ args: [String], token: String) throws -> CLI.Result { try CLI.run(args + ["--server", url, "--token", token]) }

        let imported = try remote(["import", dir + "/e.ndjson", "--rejects", dir + "/rejects.ndjson", "--json"], token: admin)
        #expect(imported.status == 0, "\(imported.stderr)")
        let summary = try JSONParser.parse(imported.stdout)
        #expect(summary["accepted"]?.intValue == 3)
        #expect(summary["rejected"]?.intValue == 1)
        #expect(try String(contentsOfFile: dir + "/rejects.ndjson", encoding: .utf8).contains("\"field\":\"data.nickname\""))

        let sub = try JSONParser.parse(try remote(["subscriptions", "create", "--name", "人社", "--json"], token: renshe).stdout)
        let sid = try #require(sub["id"]?.stringValue)

        let remoteShow = try remote(["person", "show", "110105491231002", "--lineage"], token: steward)
        #expect(remoteShow.status == 0, "\(remoteShow.stderr)")
        let remoteConflict = try remote(["conflicts", "show", "2"], token: steward)
        let list = try JSONParser.parse(try remote(["conflicts", "list", "--json", "--sort", "attribute"], token: steward).stdout).arrayValue ?? []
        #expect(list.map { $0["attribute"]?.stringValue ?? "" } == ["name", "residenceAddress"])

        let resolved = try remote(["conflicts", "resolve", "2", "--reject", "renshe", "--note", "以公安为准", "--json"], token: steward)
        #expect(try JSONParser.parse(resolved.stdout)["resolution"]?["steward"] == "王芳")   // name from the token
        let remoteAfter = try remote(["person", "show", "110105491231002", "--lineage"], token: steward)
        let feed = try JSONParser.parse(try remote(["changes", "--subscription", sid, "--json"], token: renshe).stdout)
        let notice = feed["changes"]?.arrayValue?.last
        #expect(notice?["type"] == "correction.requested")
        #expect(notice?["data"]?["department"] == "renshe")

        // error paths: distinct exit codes, one line
        let unauthorized = try remote(["quality"], token: "yd_wrong")
        #expect(unauthorized.status == 4)
        #expect(unauthorized.stderr.split(separator: "\n").count == 1)
        #expect(try remote(["conflicts", "show", "99"], token: steward).status == 3)
        #expect(try remote(["quality"], token: renshe).status == 4)           // a subscriber may not
        server.stop()
        #expect(try CLI.run(["quality", "--server", url, "--token", steward]).status == 5)

        // local mode prints the same
        let localShow = try CLI.run(["person", "show", "110105491231002", "--lineage", "--data", data])
        #expect(localShow.stdout == remoteAfter.stdout)
        #expect(localShow.stdout.contains("rejected"))
        let golden = CLI.root.appendingPathComponent("Tests/YidangCLITests/Golden/person-show-lineage.txt").path
        if ProcessInfo.processInfo.environment["UPDATE_GOLDEN"] == "1" { try remoteShow.stdout.write(toFile: golden, atomically: true, encoding: .utf8) }
        #expect(remoteShow.stdout == (try String(contentsOfFile: golden, encoding: .utf8)))
        let localConflictBefore = remoteConflict.stdout
        #expect(localConflictBefore.contains("✓ wins"))
        #expect(localConflictBefore.contains("precedence: gongan, then recency"))
        #expect(try CLI.run(["verify", "--data", data]).status == 0)
    }

    @Test func helpHasExamplesAndCompletionScriptsExist() throws {
        for cmd in [["conflicts", "resolve"], ["conflicts", "list"], ["person", "show"], ["import"], ["changes"]] {
            let help = try CLI.run(cmd + ["--help"])
            #expect(help.status == 0)
            #expect(help.stdout.contains("Example"), "\(cmd)")
        }
        let bash = try CLI.run(["--generate-completion-script", "bash"])
        #expect(bash.status == 0)
        #expect(bash.stdout.contains("conflicts"))
    }
}

@Suite(.serialized) struct FollowTests {
    /// `changes --follow` tails a subscription: a change published after it starts is
    /// printed as soon as it commits.
    @Test func followPrintsNewChangesAsTheyCommit() async throws {
        let dir = CLI.tempDir()
        let data = dir + "/data"
        let admin = try CLI.run(["tokens", "create", "--data", data, "--role", "admin"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let sub = try CLI.run(["tokens", "create", "--data", data, "--role", "subscriber"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let server = try ServerProcess(data: data)
        defer { server.stop() }
        let url = "http://127.0.0.1:\(server.port)"
        let created = try CLI.run(["subscriptions", "create", "--name", "tail", "--start", "now", "--json", "--server", url, "--token", sub])
        let sid = try #require(try JSONParser.parse(created.stdout)["id"]?.stringValue)

        let follower = Process()
        follower.executableURL = URL(fileURLWithPath: CLI.binary)
        follower.arguments = ["changes", "--subscription", sid, "--follow", "--json", "--server", url, "--token", sub]
        let out = Pipe()
        follower.standardOutput = out
        follower.standardError = FileHandle.nullDevice
        try follower.run()
        defer { follower.terminate(); follower.waitUntilExit() }
        try await Task.sleep(nanoseconds: 500_000_000)

        let line = #"{"specversion":"1.0","id":"tail-1","source":"gongan","type":"person.updated","subject":"person/11010519491231002X","time":"2026-11-20T08:00:00+08:00","data":{"name":"张三","regionCode":"110105"}}"#
        try (line + "\n").write(toFile: dir + "/one.ndjson", atomically: true, encoding: .utf8)
        #expect(try CLI.run(["import", dir + "/one.ndjson", "--server", url, "--token", admin]).status == 0)

        var text = ""
        let deadline = Date().addingTimeInterval(15)
        while !text.contains("tail-1") && Date() < deadline {
            text += String(decoding: out.fileHandleForReading.availableData, as: UTF8.self)
        }
        let first = try #require(text.split(separator: "\n").first)
        let change = try JSONParser.parse(String(first))
        #expect(change["data"]?["eventIds"]?.arrayValue?.first == "tail-1")
        #expect(change["subject"] == "person/110105********002X")   // a subscriber's default clearance masks the ID
    }
}
