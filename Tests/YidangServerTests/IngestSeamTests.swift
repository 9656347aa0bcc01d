import Foundation
import Hummingbird
import HummingbirdTesting
import JSON
import NIOCore
import Testing
import YidangModel
@testable import YidangServer
@testable import YidangStore

/// The ingest pipeline from both of its callers: the same lines give the same per-event
/// results, the same log and the same quality figures through `POST /v1/events` as through
/// `yidang import`.
@Suite struct IngestSeamTests {
    static let lines: [String] = [
        #"{"specversion":"1.0","id":"g1","source":"gongan","type":"person.updated","subject":"person/11010519491231002X","time":"2026-11-20T08:00:00+08:00","data":{"name":"张三"}}"#,
        #"{"specversion":"1.0","id":"z1","source":"zhujian","type":"person.updated","subject":"person/110105491231002","time":"2026-11-20T09:00:00+08:00","data":{"residenceAddress":"海淀区2号"}}"#,
        #"{"specversion":"1.0","id":"g1","source":"gongan","type":"person.updated","subject":"person/11010519491231002X","time":"2026-11-20T00:00:00Z","data":{"name":"张三"}}"#,
        #"{"specversion":"1.0","id":"g1","source":"gongan","type":"person.updated","subject":"person/11010519491231002X","time":"2026-11-20T08:00:00+08:00","data":{"name":"李四"}}"#,
        #"{oops"#,
        #"{"specversion":"1.0","id":"g2","source":"gongan","type":"person.updated","subject":"person/110105194912310021","time":"2026-11-20T08:00:00+08:00","data":{"name":"张三"}}"#,
        #"{"specversion":"1.0","id":"x1","source":"nobody","type":"person.updated","subject":"person/11010519491231002X","time":"2026-11-20T08:00:00+08:00","data":{"name":"张三"}}"#,
        #"{"specversion":"1.0","id":"r1","source":"renshe","type":"person.updated","subject":"person/11010519491231002X","time":"2026-11-20T08:00:00+08:00","data":{"nickname":"x"}}"#,
        #"{"specversion":"1.0","id":"r2","source":"renshe","type":"person.updated","subject":"person/11010519491231002X","time":"2026-11-20T10:00:00+08:00","data":{"name":"张叁"}}"#,
    ]

    /// (status, position or problem type) per line.
    static func summary(_ outcomes: [(String, String)]) -> [String] { outcomes.map { "\($0.0):\($0.1)" } }

    @Test func httpAndImportGiveTheSameResults() async throws {
        // Through import.
        let imported = try Hub(directory: tempDir("seam-import"))
        defer { imported.close() }
        let file = TestDirectoriesPath.file("seam.ndjson")
        try Self.lines.joined(separator: "\n").write(toFile: file, atomically: true, encoding: .utf8)
        var byLine: [UInt64: (String, String)] = [:]
        let totals = try await Importer(hub: imported).importFiles([file]) { r in
            byLine[r.line] = ("rejected", r.rejection.code.rawValue)
        }
        #expect(totals.accepted == 3 && totals.duplicates == 1 && totals.rejected == 5)
        var importResults: [(String, String)] = []
        for n in 1...UInt64(Self.lines.count) {
            if let r = byLine[n] { importResults.append(r); continue }
            // Accepted or duplicate: the position the log holds for the line's (source, id).
            let doc = try JSONParser.parse(Self.lines[Int(n) - 1])
            let key = Keys.idempotencyKey(source: doc["source"]?.stringValue ?? "", id: doc["id"]?.stringValue ?? "")
            let position = try #require(try imported.database.get(key)).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            importResults.append((n == 3 ? "duplicate" : "accepted", String(position)))
        }

        // Through HTTP, as an admin (any department, like the operator's import).
        let f = try Fixture()
        defer { f.hub.close() }
        let httpResults: [(String, String)] = try await f.run { client in
            let r = try await client.execute(uri: "/v1/events", method: .post, headers: f.headers("admin", "application/x-ndjson"),
                                             body: ByteBuffer(string: Self.lines.joined(separator: "\n")))
            return try (json(r)["results"]?.arrayValue ?? []).map { item in
                let status = item["status"]?.stringValue ?? ""
                if status == "rejected" {
                    return (status, String((item["problem"]?["type"]?.stringValue ?? "").split(separator: "/").last ?? ""))
                }
                return (status, item["position"]?.numberText ?? "")
            }
        }
        #expect(Self.summary(httpResults) == Self.summary(importResults))
        #expect(Self.summary(httpResults) == ["accepted:1", "accepted:2", "duplicate:1", "rejected:id-reused", "rejected:malformed-json",
                                              "rejected:invalid-identifier", "rejected:unknown-source", "rejected:unknown-attribute", "accepted:3"])

        // The same log and the same quality figures.
        for p in 1...3 as ClosedRange<UInt64> {
            let a = try #require(try imported.reader.event(at: p)), b = try #require(try f.hub.reader.event(at: p))
            #expect(a.publishesSameContent(as: b))
        }
        #expect(try imported.reader.headPosition() == f.hub.reader.headPosition())
        let qa = try imported.reader.quality().map { JSONWriter.serialize($0.json(configuration: imported.configuration)) }
        let qb = try f.hub.reader.quality().map { JSONWriter.serialize($0.json(configuration: f.hub.configuration)) }
        #expect(Self.stripDelays(qa) == Self.stripDelays(qb))
    }

    /// Quality rows without the ingest-delay figures, which depend on when each hub ran.
    static func stripDelays(_ rows: [String]) -> [String] {
        rows.map { row in
            guard case .object(var o)? = try? JSONParser.parse(row) else { return row }
            o["medianDelay"] = nil
            return JSONWriter.serialize(.object(o))
        }
    }
}

enum TestDirectoriesPath {
    static func file(_ name: String) -> String { tempDir("files-\(name)") + "/" + name }
}
