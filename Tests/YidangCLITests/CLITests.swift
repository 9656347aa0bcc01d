import Foundation
import JSON
import Testing
import TestSupport

/// Drives the real `yidang` binary.
enum CLI {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static var binary: String {
        if let b = ProcessInfo.processInfo.environment["YIDANG_BIN"] { return b }
        return root.appendingPathComponent(".build/debug/yidang").path
    }

    struct Result { var status: Int32; var stdout: String; var stderr: String }

    @discardableResult
    static func run(_ args: [String], env: [String: String] = [:]) throws -> Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = args
        var environment = ProcessInfo.processInfo.environment
        for (k, v) in env { environment[k] = v }
        environment["NO_COLOR"] = "1"
        p.environment = environment
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Result(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }

    static func json(_ args: [String]) throws -> JSONValue {
        let r = try run(args + ["--json"])
        guard r.status == 0 else { throw CLIFailure(message: "\(args) exited \(r.status): \(r.stderr)") }
        return try JSONParser.parse(r.stdout)
    }

    static func tempDir(_ name: String = #function) -> String {
        TestDirectories.make("cli", for: name)
    }

    static func generateCity(into dir: String, persons: Int, enterprises: Int, seed: Int) throws -> (events: String, truth: JSONValue) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", root.appendingPathComponent("Tools/citygen.py").path, "--persons", "\(persons)",
                       "--enterprises", "\(enterprises)", "--seed", "\(seed)", "--out", dir + "/city.ndjson", "--truth", dir + "/truth.json"]
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw CLIFailure(message: "citygen failed") }
        let truth = try JSONParser.parse(Array(try Data(contentsOf: URL(fileURLWithPath: dir + "/truth.json"))))
        return (dir + "/city.ndjson", truth)
    }
}

struct CLIFailure: Error { let message: String }

@Suite(.serialized) struct ImportAndProjectionCLITests {
    @Test func syntheticCityMatchesItsTruthFile() throws {
        let dir = CLI.tempDir()
        let data = dir + "/data"
        let (events, truth) = try CLI.generateCity(into: dir, persons: 1500, enterprises: 150, seed: 11)
        let summary = try CLI.json(["import", events, "--data", data, "--rejects", dir + "/rejects.ndjson"])
        let expectedRejects = truth["rejects"]?.arrayValue ?? []
        #expect(summary["rejected"]?.intValue == expectedRejects.count)
        #expect(summary["duplicate"]?.intValue == 0)

        // Every expected reject is in the rejects file with its line and reason code.
        let rejectLines = try String(contentsOfFile: dir + "/rejects.ndjson", encoding: .utf8).split(separator: "\n")
        let rejects = try rejectLines.map { try JSONParser.parse(String($0)) }
        #expect(Set(rejects.compactMap { r in r["line"]?.intValue.map { "\($0):\(r["code"]?.stringValue ?? "")" } })
                == Set(expectedRejects.compactMap { r in r["line"]?.intValue.map { "\($0):\(r["code"]?.stringValue ?? "")" } }))

        // Expected open conflicts, exactly.
        let conflicts = try CLI.json(["conflicts", "list", "--data", data, "--limit", "100000"]).arrayValue ?? []
        let got = Set(conflicts.map { "\($0["subject"]?.stringValue ?? ""):\($0["attribute"]?.stringValue ?? "")" })
        let want = Set((truth["conflicts"]?.arrayValue ?? []).map { "\($0.arrayValue?[0].stringValue ?? ""):\($0.arrayValue?[1].stringValue ?? "")" })
        #expect(!want.isEmpty)
        #expect(got == want)

        // Golden values for a sample of subjects (width-only differences, legacy IDs and
        // out-of-order arrivals are all in the generated mix).
        let golden = truth["golden"]?.objectValue ?? JSONObject()
        var checked = 0
        for (subject, expected) in golden where checked < 120 {
            checked += 1
            let parts = subject.split(separator: "/")
            let record = try CLI.json([String(parts[0]), "show", String(parts[1]), "--data", data])
            for (attribute, value) in expected.objectValue ?? JSONObject() {
                let actual = record["attributes"]?[attribute]?["value"]
                #expect(actual == value || actual?.numberText == value.numberText && value.numberText != nil,
                        "\(subject) \(attribute): \(String(describing: actual)) != \(value)")
            }
        }
        let verify = try CLI.run(["verify", "--data", data])
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")

        // Re-importing the same file changes nothing.
        let again = try CLI.json(["import", events, "--data", data])
        #expect(again["accepted"]?.intValue == 0)
        #expect(again["duplicate"]?.intValue == summary["accepted"]?.intValue)
    }

    @Test func stewardWorkflowThroughTheBinary() throws {
        let dir = CLI.tempDir()
        let data = dir + "/data"
        let lines = [
            #"{"specversion":"1.0","id":"g1","source":"gongan","type":"person.updated","subject":"person/11010519491231002X","time":"2026-11-20T08:00:00+08:00","data":{"name":"张三","residenceAddress":"朝阳区1号"}}"#,
            #"{"specversion":"1.0","id":"z1","source":"zhujian","type":"person.updated","subject":"person/110105491231002","time":"2026-11-20T09:00:00+08:00","data":{"residenceAddress":"海淀区2号"}}"#,
            #"{"specversion":"1.0","id":"r1","source":"renshe","type":"person.updated","subject":"person/11010519491231002x","time":"2026-11-20T09:00:00+08:00","data":{"name":"张叁"}}"#,
        ]
        try lines.joined(separator: "\n").write(toFile: dir + "/e.ndjson", atomically: true, encoding: .utf8)
        #expect(try CLI.run(["import", dir + "/e.ndjson", "--data", data]).status == 0)
        let list = try CLI.json(["conflicts", "list", "--data", data]).arrayValue ?? []
        #expect(list.count == 2)
        let nameConflict = try #require(list.first { $0["attribute"] == "name" })
        let id = try #require(nameConflict["id"]?.intValue)
        #expect(nameConflict["candidates"]?.arrayValue?.map { $0["source"]?.stringValue ?? "" } == ["gongan", "renshe"])

        let resolved = try CLI.json(["conflicts", "resolve", "\(id)", "--reject", "renshe", "--as", "王芳", "--note", "以公安为准", "--data", data])
        #expect(resolved["status"] == "resolved")
        #expect(resolved["resolution"]?["action"] == "reject")
        #expect(resolved["resolution"]?["steward"] == "王芳")
        let changes = try CLI.json(["changes", "--data", data])["changes"]?.arrayValue ?? []
        let notice = try #require(changes.last)
        #expect(notice["type"] == "correction.requested")
        #expect(notice["department"] == "renshe")

        let again = try CLI.run(["conflicts", "resolve", "\(id)", "--accept", "--data", data])
        #expect(again.status == 1)
        #expect(again.stderr.contains("already resolved"))
        let addr = try #require(list.first { $0["attribute"] == "residenceAddress" }?["id"]?.intValue)
        // A value none of the departments asserted is refused without --force, and nothing is stored.
        let unforced = try CLI.run(["conflicts", "resolve", "\(addr)", "--pin", "朝阳区 1号", "--as", "王芳", "--data", data])
        #expect(unforced.status == 1)
        #expect(unforced.stderr.contains("none of the candidates' values") && unforced.stderr.contains("force"), "\(unforced.stderr)")
        #expect(try CLI.json(["conflicts", "show", "\(addr)", "--data", data])["status"] == "open")
        let pinned = try CLI.json(["conflicts", "resolve", "\(addr)", "--pin", "朝阳区 1号", "--force", "--as", "王芳", "--data", data])
        #expect(pinned["resolution"]?["value"] == "朝阳区 1号")
        #expect(pinned["winner"] == "朝阳区 1号")
        #expect(pinned["candidates"]?.arrayValue?.allSatisfy { $0["winning"] == false } == true)
        let record = try CLI.json(["person", "show", "110105491231002", "--lineage", "--data", data])
        #expect(record["attributes"]?["residenceAddress"]?["source"] == "steward")
        #expect(record["attributes"]?["name"]?["lineage"]?.arrayValue?.count == 2)
        #expect(try CLI.run(["verify", "--data", data]).status == 0)
        let history = try CLI.json(["history", "110105491231002", "--data", data]).arrayValue ?? []
        #expect(history.count == 5)
    }

    @Test func backupRestoreAndRebuildKeepEverything() throws {
        let dir = CLI.tempDir()
        let data = dir + "/data"
        let (events, _) = try CLI.generateCity(into: dir, persons: 200, enterprises: 20, seed: 3)
        #expect(try CLI.run(["import", events, "--data", data]).status == 0)
        let before = try CLI.run(["conflicts", "list", "--data", data, "--json"]).stdout
        #expect(try CLI.run(["backup", dir + "/backup", "--data", data]).status == 0)
        #expect(try CLI.run(["backup", dir + "/backup", "--data", data]).status == 1)      // never overwrites
        #expect(try CLI.run(["restore", dir + "/backup", "--data", dir + "/restored"]).status == 0)
        #expect(try CLI.run(["restore", dir + "/backup", "--data", dir + "/restored"]).status == 1) // not into data
        #expect(try CLI.run(["conflicts", "list", "--data", dir + "/restored", "--json"]).stdout == before)
        #expect(try CLI.run(["verify", "--data", dir + "/restored"]).status == 0)
        let rebuilt = try CLI.run(["rebuild", "--data", dir + "/restored"])
        #expect(rebuilt.status == 0)
        #expect(rebuilt.stdout.hasPrefix("rebuilt from"))
        #expect(rebuilt.stdout.contains("; replay ") && rebuilt.stdout.contains(" ingest "))   // where the time went
        #expect(try CLI.run(["conflicts", "list", "--data", dir + "/restored", "--json"]).stdout == before)
    }

    /// The binary's allocator is jemalloc, on its default page policy (it asks for no
    /// transparent huge pages, `Sources/JemallocOptions`): jemalloc lists its options at exit
    /// when asked, which only jemalloc does.
    @Test func theBinaryAllocatesWithJemallocOnSmallPages() throws {
        let r = try CLI.run(["--help"], env: ["MALLOC_CONF": "stats_print:true"])
        #expect(r.status == 0)
        #expect(r.stderr.contains("Begin jemalloc statistics"), "\(r.stderr.prefix(2_000))")
        #expect(r.stderr.contains("opt.thp: \"default\""), "\(r.stderr.prefix(2_000))")
    }

    @Test func errorsAreOneLineWithDistinctExitCodes() throws {
        let data = CLI.tempDir() + "/data"
        let missing = try CLI.run(["person", "show", "11010519491231002X", "--data", data])
        #expect(missing.status == 3)
        #expect(missing.stderr == "yidang: no record for person/11010519491231002X\n")
        let invalid = try CLI.run(["person", "show", "36042619910102009X", "--data", data])
        #expect(invalid.status == 1)
        #expect(invalid.stderr.contains("fails its check character"))
        let usage = try CLI.run(["conflicts", "resolve", "1", "--accept", "--pin", "x", "--data", data])
        #expect(usage.status == 64)
        let noFile = try CLI.run(["import", "/nonexistent.ndjson", "--data", data])
        #expect(noFile.status == 1)
        #expect(noFile.stderr.contains("/nonexistent.ndjson"))
        // Cluster settings are checked before anything connects.
        for (flag, value) in [("--log-storage", "disk"), ("--log-duplicate-window", "soon"), ("--log-replicas", "7")] {
            let bad = try CLI.run(["serve", "--data", data, "--nats", "nats://127.0.0.1:1", flag, value])
            #expect(bad.status == 64, "\(flag)")
            #expect(bad.stderr.contains(flag) && bad.stderr.contains(value), "\(bad.stderr)")
        }
    }
}

@Suite(.serialized) struct CrashTests {
    /// A bulk import commits each group as a table file ingested at once, and writes golden
    /// records late. Killed with SIGKILL mid-way, it leaves whole groups: the log holds the
    /// file's first events in file order, at positions 1, 2, 3…; verify reports the golden
    /// records it had not written, and the next command that opens the directory rebuilds
    /// them from the log (verify then agrees). Run again, the import stores the rest and
    /// counts the stored ones as duplicates.
    @Test func sigkilledImportKeepsWholeGroupsAndResumes() throws {
        let dir = CLI.tempDir(), data = dir + "/data", file = dir + "/load.ndjson"
        let subjects = ["11010519491231002X", "360426199101010071", "44011320141005001X"]
        let sources = ["gongan", "renshe", "weijian"]
        let count = 60_000
        var ids: [String] = []
        var text = ""
        for i in 0..<count {
            let source = sources[i % 3], subject = subjects[(i / 3) % 3]
            ids.append("\(source)-\(i)")
            text += #"{"specversion":"1.0","id":"\#(ids[i])","source":"\#(source)","type":"person.updated","subject":"person/\#(subject)","#
                + #""time":"2026-11-20T08:00:00+08:00","data":{"phone":"138\#(String(format: "%08d", i))"}}"# + "\n"
        }
        try text.write(toFile: file, atomically: true, encoding: .utf8)

        let p = Process()
        p.executableURL = URL(fileURLWithPath: CLI.binary)
        p.arguments = ["import", file, "--data", data]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        // Killed once the first group is surely in the database: a group's table files (at
        // most four: log entries, indexes and golden records, change records, the rest; see
        // EventStore.writeGroupFiles) are linked into the database directory before its
        // ingestion commits, and groups commit one after another, so a fifth file means the
        // first group's ingestion is complete. (Counting three, as when a group was two files,
        // could kill the import inside its first ingestion: nothing stored.)
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            let files = (try? FileManager.default.contentsOfDirectory(atPath: data + "/db")) ?? []
            if files.filter({ $0.hasSuffix(".sst") }).count >= 5 { break }
            usleep(20_000)
        }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        #expect(p.terminationReason == .uncaughtSignal, "the import finished before it was killed")

        let behind = try CLI.run(["verify", "--data", data])
        #expect(behind.status == 6 && behind.stdout.contains("an import has not written its golden records"),
                "\(behind.stdout)\(behind.stderr)")
        // Any command that opens the directory as its writer rebuilds the projection first.
        let opened = try CLI.run(["person", "show", subjects[0], "--data", data])
        #expect(opened.status == 0 && opened.stderr.contains("rebuilding the projection from the log"), "\(opened.stdout)\(opened.stderr)")
        let verified = try CLI.run(["verify", "--data", data])
        #expect(verified.status == 0, "\(verified.stdout)\(verified.stderr)")
        var stored: [(position: Int, id: String)] = []
        for subject in subjects {
            for e in try CLI.json(["history", "person/" + subject, "--data", data]).arrayValue ?? [] {
                stored.append((e["position"]?.intValue ?? -1, e["id"]?.stringValue ?? ""))
            }
        }
        stored.sort { $0.position < $1.position }
        #expect(stored.count > 0 && stored.count < count)
        #expect(stored.map(\.position) == Array(1...max(1, stored.count)))
        #expect(stored.map(\.id) == Array(ids.prefix(stored.count)))

        let resumed = try CLI.json(["import", file, "--data", data])
        #expect(resumed["accepted"]?.intValue == count - stored.count)
        #expect(resumed["duplicate"]?.intValue == stored.count)
        let again = try CLI.run(["verify", "--data", data])
        #expect(again.status == 0, "\(again.stdout)\(again.stderr)")
    }

    /// A child appends under load and is killed with SIGKILL; after reopening, every
    /// acknowledged append is present exactly once and the projection equals a replay.
    @Test func sigkillLosesNoAcknowledgedEvent() throws {
        let data = CLI.tempDir() + "/data"
        for round in 0..<2 {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: CLI.binary)
            p.arguments = ["append-load", "--data", data, "--count", "200000", "--concurrency", "16", "--prefix", "r\(round)"]
            let out = Pipe()
            p.standardOutput = out
            p.standardError = FileHandle.nullDevice
            try p.run()
            var acked = Data()
            let deadline = Date().addingTimeInterval(20)
            while acked.count < 40_000 && Date() < deadline {
                acked.append(out.fileHandleForReading.availableData)
            }
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            acked.append(out.fileHandleForReading.readDataToEndOfFile())
            let lines = String(decoding: acked, as: UTF8.self).split(separator: "\n").filter { $0.hasPrefix("ack ") && $0.split(separator: " ").count == 4 }
            #expect(lines.count > 100)
            let history = try CLI.run(["verify", "--data", data])
            #expect(history.status == 0, "\(history.stdout)\(history.stderr)")
            // Each acknowledged event is stored exactly once, at the acknowledged position.
            var byPosition: [Int: String] = [:]
            for l in lines {
                let f = l.split(separator: " ")
                byPosition[Int(f[3]) ?? -1] = String(f[2])
            }
            let stored = try CLI.json(["changes", "--data", data, "--after", "0", "--limit", "1000000"])["changes"]?.arrayValue ?? []
            var storedIds: [String: Int] = [:]
            for c in stored { for id in c["eventIds"]?.arrayValue ?? [] { storedIds[id.stringValue ?? "", default: 0] += 1 } }
            for (_, id) in byPosition where id.hasPrefix("r\(round)-") {
                #expect(storedIds[id] == 1, "acknowledged \(id) missing or duplicated")
            }
        }
    }
}
