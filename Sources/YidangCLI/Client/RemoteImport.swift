import Foundation
import JSON
import YidangStore

/// `yidang import` against a server: NDJSON in chunks to `POST /v1/events`, in file order.
struct RemoteImport {
    let client: RemoteClient
    var chunkLines = 2000

    func run(_ files: [String], onReject: (String, UInt64, String, String, String, String) -> Void) async throws -> ImportSummary {
        var summary = ImportSummary()
        for file in files {
            guard let data = FileManager.default.contents(atPath: file) else { throw CLIError.notFound("file \(file)") }
            let lines = NDJSON.lines(Array(data))
            var i = 0
            while i < lines.count {
                let chunk = lines[i..<min(i + chunkLines, lines.count)]
                i += chunk.count
                var body: [UInt8] = []
                for (_, l) in chunk { body.append(contentsOf: l); body.append(0x0A) }
                let reply = try await client.publish(ndjson: body)
                let results = reply["results"]?.arrayValue ?? []
                summary.lines += UInt64(chunk.count)
                for (offset, r) in results.enumerated() where offset < chunk.count {
                    switch r["status"]?.stringValue {
                    case "accepted": summary.accepted += 1
                    case "duplicate": summary.duplicates += 1
                    default:
                        summary.rejected += 1
                        let (n, text) = chunk[chunk.startIndex + offset]
                        let p = r["problem"]
                        let code = (p?["type"]?.stringValue ?? "").split(separator: "/").last.map(String.init) ?? "rejected"
                        onReject(file, n, p?["field"]?.stringValue ?? "", p?["detail"]?.stringValue ?? "", code, String(decoding: text, as: UTF8.self))
                    }
                }
                Terminal.progress("importing", done: UInt64(i), total: UInt64(lines.count))
            }
        }
        return summary
    }
}
