import Foundation
import JSON
import Testing

/// Identity resolution through the real binary: an import of records without national
/// identifiers (in one file with the registry, and later in another), the review queue,
/// confirm, unmerge, crosswalks, one-line refusals, and a rebuild that reproduces it all.
@Suite struct IdentityCLITests {
    static func line(_ id: String, _ source: String, _ subject: String, _ data: String) -> String {
        #"{"specversion":"1.0","id":"\#(id)","source":"\#(source)","type":"person.updated","subject":"\#(subject)","time":"2026-11-20T08:00:00+08:00","data":\#(data)}"#
    }

    @Test func matchingAndStewardWorkThroughTheBinary() throws {
        let dir = CLI.tempDir()
        let data = dir + "/data"
        let first = [
            Self.line("g1", "gongan", "person/11010519491231002X", #"{"name":"张三","gender":"1","birthDate":"1949-12-31","phone":"13800138000"}"#),
            Self.line("g2", "gongan", "person/110101199003077774", #"{"name":"李四","gender":"2","birthDate":"1990-03-07","phone":"13900000000"}"#),
            // 張三 in traditional characters, same birth date and phone: linked.
            Self.line("t1", "tongji", "person/local/T-1", #"{"name":"張三","gender":"1","birthDate":"1949-12-31","phone":"13800138000"}"#),
            // Two records of one unknown person in the same file: the second joins the first.
            Self.line("t2", "tongji", "person/local/T-2", #"{"name":"王五","gender":"1","birthDate":"1980-01-02","phone":"13700000000"}"#),
            Self.line("j1", "jiaoyu", "person/local/J-2", #"{"name":"王五","gender":"1","birthDate":"1980-01-02","phone":"137 0000 0000"}"#),
        ]
        try first.joined(separator: "\n").write(toFile: dir + "/a.ndjson", atomically: true, encoding: .utf8)
        let summary = try CLI.json(["import", dir + "/a.ndjson", "--data", data])
        #expect(summary["accepted"]?.intValue == 5)
        // A later import: day and month swapped, no phone: a review task.
        try Self.line("m1", "minzheng", "person/local/M-1", #"{"name":"李四","gender":"2","birthDate":"1990-07-03"}"#)
            .write(toFile: dir + "/b.ndjson", atomically: true, encoding: .utf8)
        #expect(try CLI.json(["import", dir + "/b.ndjson", "--data", data])["accepted"]?.intValue == 1)

        let crosswalks = try CLI.json(["crosswalks", "--data", data]).arrayValue ?? []
        let bySource = Dictionary(uniqueKeysWithValues: crosswalks.map { ("\($0["source"]?.stringValue ?? "")/\($0["key"]?.stringValue ?? "")", $0["subject"]?.stringValue ?? "") })
        #expect(bySource["tongji/T-1"] == "person/11010519491231002X")
        #expect(bySource["tongji/T-2"] == "person/YD0000000001")
        #expect(bySource["jiaoyu/J-2"] == "person/YD0000000001")
        #expect(bySource["minzheng/M-1"] == "person/YD0000000002")

        let queue = try CLI.json(["matches", "list", "--data", data]).arrayValue ?? []
        #expect(queue.count == 1)
        let id = try #require(queue.first?["id"]?.intValue)
        let shown = try CLI.run(["matches", "show", "\(id)", "--data", data])
        #expect(shown.status == 0)
        #expect(shown.stdout.contains("day and month swapped"))

        let confirmed = try CLI.json(["matches", "confirm", "\(id)", "--as", "王芳", "--data", data])
        #expect(confirmed["survivor"] == "person/110101199003077774")
        let alias = try CLI.json(["person", "show", "YD0000000002", "--data", data])
        #expect(alias["mergedInto"] == "person/110101199003077774")

        let unmerged = try CLI.json(["unmerge", "--source", "minzheng", "--key", "M-1", "--as", "王芳", "--data", data])
        #expect(unmerged["subject"] == "person/YD0000000003")

        // Refusals: one line on stderr, a non-zero exit, nothing stored.
        for args in [["merge", "person/YD0000000001", "--into", "person/YD0000000001"],
                     ["unmerge", "--source", "minzheng", "--key", "NOPE"],
                     ["matches", "confirm", "\(id)"]] {
            let r = try CLI.run(args + ["--data", data])
            #expect(r.status != 0, "\(args)")
            #expect(r.stderr.split(separator: "\n").count == 1, "\(args): \(r.stderr)")
        }

        #expect(try CLI.run(["verify", "--data", data]).status == 0)
        let before = try CLI.json(["crosswalks", "--data", data])
        #expect(try CLI.run(["rebuild", "--data", data]).status == 0)
        #expect(try CLI.json(["crosswalks", "--data", data]) == before)
        #expect(try CLI.run(["verify", "--data", data]).status == 0)
    }
}

/// The generated city of `Tools/matchgen.py` (homophones, traditional characters, swapped
/// day and month, new phones, address variants, namesakes, people the registry does not
/// know), trained, then imported in one file or in three: pairwise precision and recall.
@Suite struct MatchingQualityTests {
    func run(parts: Int) throws -> JSONValue {
        let dir = CLI.tempDir("quality-\(parts)")
        let data = dir + "/data"
        let gen = Process()
        gen.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        gen.arguments = ["python3", CLI.root.appendingPathComponent("Tools/matchgen.py").path, "--persons", "1500", "--records", "1000",
                         "--seed", "5", "--parts", "\(parts)", "--out", dir]
        try gen.run()
        gen.waitUntilExit()
        #expect(gen.terminationStatus == 0)
        let records = (1...parts).map { "\(dir)/records-\($0).ndjson" }
        #expect(try CLI.run(["matches", "train", dir + "/registry.ndjson"] + records + ["--random-pairs", "20000", "--data", data]).status == 0)
        // Training is repeatable: another process (other hash seeds, other thread timing)
        // learns the same weights from the same records.
        #expect(try CLI.run(["matches", "train", dir + "/registry.ndjson"] + records + ["--random-pairs", "20000", "--data", dir + "/again"]).status == 0)
        #expect(try String(contentsOfFile: data + "/matching.json", encoding: .utf8) == String(contentsOfFile: dir + "/again/matching.json", encoding: .utf8))
        for file in [dir + "/registry.ndjson"] + records {
            #expect(try CLI.json(["import", file, "--data", data])["rejected"]?.intValue == 0)
        }
        let crosswalks = try CLI.run(["crosswalks", "--json", "--data", data])
        try crosswalks.stdout.write(toFile: dir + "/crosswalks.json", atomically: true, encoding: .utf8)
        let score = Process(), out = Pipe()
        score.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        score.arguments = ["python3", CLI.root.appendingPathComponent("Benchmarks/pairwise.py").path, dir + "/truth.json", dir + "/crosswalks.json"]
        score.standardOutput = out
        try score.run()
        let bytes = out.fileHandleForReading.readDataToEndOfFile()
        score.waitUntilExit()
        return try JSONParser.parse(String(decoding: bytes, as: UTF8.self))
    }

    @Test func precisionAndRecallInOneImportOrSeveral() throws {
        for parts in [1, 3] {
            let r = try run(parts: parts)
            #expect((r["precision"]?.numberText.flatMap(Double.init) ?? 0) >= 0.995, "\(parts) imports: \(r)")
            #expect((r["recall"]?.numberText.flatMap(Double.init) ?? 0) >= 0.97, "\(parts) imports: \(r)")
        }
    }
}
