import ArgumentParser
import Foundation
import JSON
import YidangModel

struct RecordOptions: ParsableArguments {
    @Option(name: .customLong("as-of"), help: "Show the record as of this RFC 3339 time (facts effective then).")
    var asOf: String?
    @Option(name: .customLong("known-at"), help: "With --as-of: leave out what the hub learned after this time.")
    var knownAt: String?
    @Flag(help: "Show which department gave each value, when, from which event.")
    var lineage = false
}

struct PersonCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "person", abstract: "A person's golden record (一人一档).",
                                                    subcommands: [Show.self])
    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show", abstract: "Show a person's golden record.",
                                                        discussion: "Example: yidang person show 11010519491231002X --lineage")
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions
        @OptionGroup var record: RecordOptions
        @Argument(help: "公民身份号码 (18 or legacy 15 digits).") var id: String
        func run() async throws { try await guarded { try await showRecord(kind: "person", id: id, connection: connection, output: output, record: record) } }
    }
}

struct EnterpriseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "enterprise", abstract: "An enterprise's golden record (一企一档).",
                                                    subcommands: [Show.self])
    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show", abstract: "Show an enterprise's golden record.",
                                                        discussion: "Example: yidang enterprise show 91310115MA1K3BTP2B")
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions
        @OptionGroup var record: RecordOptions
        @Argument(help: "统一社会信用代码.") var uscc: String
        func run() async throws { try await guarded { try await showRecord(kind: "enterprise", id: uscc, connection: connection, output: output, record: record) } }
    }
}

func parseTime(_ text: String?, _ flag: String) throws -> Int64? {
    guard let text else { return nil }
    guard let t = Timestamp.parse(text) else { throw CLIError.failure("\(flag): \"\(text)\" is not an RFC 3339 time such as 2026-11-20T08:00:00+08:00") }
    return t
}

func showRecord(kind: String, id: String, connection: ConnectionOptions, output: OutputOptions, record: RecordOptions) async throws {
    _ = try parseTime(record.asOf, "--as-of")
    _ = try parseTime(record.knownAt, "--known-at")
    let client = try connection.client(readOnly: true)
    let r = try await withClient(client) { try await $0.record(kind: kind, id: id, asOf: record.asOf, knownAt: record.knownAt, lineage: record.lineage) }
    print(output.json ? JSONWriter.serialize(r, pretty: true) : Views.record(r))
}

/// Runs `body` and closes the client whatever happens.
func withClient<T>(_ client: any HubClient, _ body: (any HubClient) async throws -> T) async throws -> T {
    do {
        let v = try await body(client)
        await client.close()
        return v
    } catch {
        await client.close()
        throw error
    }
}

struct HistoryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history", abstract: "A subject's events, in log order.",
        discussion: "Example: yidang history person/11010519491231002X   (a 15-digit ID finds the 18-digit subject)")
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "person/<ID>, enterprise/<USCC>, or a bare identifier.") var subject: String

    func run() async throws {
        try await guarded {
            let h = try await withClient(try connection.client(readOnly: true)) { try await $0.history(subject: subject) }
            let events = h["events"]?.arrayValue ?? []
            if output.json { print(JSONWriter.serialize(.array(events), pretty: true)); return }
            print(Terminal.bold(Views.text(h["subject"])) + "  \(events.count) events")
            print(Terminal.table(["position", "effective", "ingested", "source", "type", "data"], events.map { e in
                [Views.text(e["position"]), Views.text(e["time"]), Views.text(e["ingesttime"]), Views.text(e["source"]), Views.text(e["type"]),
                 e["data"].map { JSONWriter.serialize($0) } ?? ""]
            }))
        }
    }
}
