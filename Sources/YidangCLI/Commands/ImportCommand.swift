import ArgumentParser
import Foundation
import JSON
import YidangStore

struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Bulk-load NDJSON CloudEvents (one event per line).",
        discussion: """
        Every line goes through the same validation and the same writer as POST /v1/events.
        Rejected lines are written to the rejects file as JSON with the field and reason.
        A local import returns once RocksDB has compacted what it loaded, so the next command
        starts on a settled store.
        Example: yidang import gongan-2026-11.ndjson --rejects rejects.ndjson
        """
    )
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "NDJSON files.") var files: [String]
    @Option(help: "Write each rejected line here as JSON with its reason.") var rejects: String?
    @Flag(help: "Print the summary as JSON.") var json = false

    func run() async throws {
        try await guarded {
            var rejectHandle: FileHandle?
            if let rejects {
                FileManager.default.createFile(atPath: rejects, contents: nil)
                rejectHandle = FileHandle(forWritingAtPath: rejects)
                if rejectHandle == nil { throw CLIError.failure("cannot write rejects file \(rejects)") }
            }
            // Every reject was written (and a write failure thrown) before this; closing a
            // FileHandle does not flush anything further.
            defer { try? rejectHandle?.close() }
            let started = Date()
            let writeReject: (String, UInt64, String, String, String, String) -> Void = { file, line, field, reason, code, text in
                let o: JSONValue = ["file": .string(file), "line": JSONValue(line), "field": .string(field),
                                    "reason": .string(reason), "code": .string(code), "event": .string(text)]
                rejectHandle?.write(Data((JSONWriter.serialize(o) + "\n").utf8))
            }
            let summary = try await withClient(try connection.client()) { client -> ImportSummary in
                if let remote = client as? RemoteClient {
                    return try await RemoteImport(client: remote).run(files, onReject: writeReject)
                }
                guard let local = client as? LocalClient else { throw CLIError.failure("unsupported connection") }
                return try await Importer(hub: local.hub).importFiles(files, onReject: { r in
                    writeReject(r.file, r.line, r.rejection.field, r.rejection.reason, r.rejection.code.rawValue, r.text)
                }, progress: { done, total in Terminal.progress("importing", done: done, total: total) })
            }
            let seconds = Date().timeIntervalSince(started)
            if json {
                print(JSONWriter.serialize(["lines": JSONValue(summary.lines), "accepted": JSONValue(summary.accepted),
                                            "duplicate": JSONValue(summary.duplicates), "rejected": JSONValue(summary.rejected),
                                            "seconds": .number(String(format: "%.3f", seconds))]))
            } else {
                let rate = seconds > 0 ? Double(summary.lines) / seconds : 0
                print("accepted \(summary.accepted), duplicate \(summary.duplicates), rejected \(summary.rejected) "
                      + "(\(summary.lines) lines in \(String(format: "%.2f", seconds)) s, \(Int(rate)) events/s)")
                if summary.rejected > 0 && rejects == nil { Terminal.info("hint: --rejects FILE lists each rejected line with its reason") }
            }
        }
    }
}
