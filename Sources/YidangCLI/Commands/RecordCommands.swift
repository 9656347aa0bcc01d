import ArgumentParser
import Foundation
import JSON
import YidangModel
import YidangProjection
import YidangStore

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
        static let configuration = CommandConfiguration(abstract: "Show a person's golden record.",
                                                        discussion: "Example: yidang person show 11010519491231002X --lineage")
        @OptionGroup var data: DataOptions
        @OptionGroup var output: OutputOptions
        @OptionGroup var record: RecordOptions
        @Argument(help: "公民身份号码 (18 or legacy 15 digits).") var id: String
        func run() async throws { try await guarded { try showRecord(kind: .person, id: id, data: data, output: output, record: record) } }
    }
}

struct EnterpriseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "enterprise", abstract: "An enterprise's golden record (一企一档).",
                                                    subcommands: [Show.self])
    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show an enterprise's golden record.",
                                                        discussion: "Example: yidang enterprise show 91310115MA1K3BTP2B")
        @OptionGroup var data: DataOptions
        @OptionGroup var output: OutputOptions
        @OptionGroup var record: RecordOptions
        @Argument(help: "统一社会信用代码.") var uscc: String
        func run() async throws { try await guarded { try showRecord(kind: .enterprise, id: uscc, data: data, output: output, record: record) } }
    }
}

func parseTime(_ text: String?, _ flag: String) throws -> Int64? {
    guard let text else { return nil }
    guard let t = Timestamp.parse(text) else { throw CLIError.failure("\(flag): \"\(text)\" is not an RFC 3339 time such as 2026-11-20T08:00:00+08:00") }
    return t
}

func showRecord(kind: EntityKind, id: String, data: DataOptions, output: OutputOptions, record: RecordOptions) throws {
    let hub = try data.openHub()
                defer { hub.close() }
    let subject: Subject
    do { subject = try hub.validator.parseIdentifier(id, kind: kind, field: kind == .person ? "id" : "uscc") } catch {
        throw CLIError.failure(error.description)
    }
    let asOf = try parseTime(record.asOf, "--as-of"), knownAt = try parseTime(record.knownAt, "--known-at")
    let state = (asOf != nil || knownAt != nil)
        ? try hub.reader.state(of: subject, asOf: asOf ?? Int64.max, knownAt: knownAt)
        : try hub.reader.state(of: subject)
    guard let state else { throw CLIError.notFound("no record for \(subject)") }
    // Links are current; an as-of view leaves them out rather than mix times.
    let links = (asOf != nil || knownAt != nil) ? [] : try hub.reader.links(of: subject)
    if output.json {
        print(JSONWriter.serialize(state.goldenRecordJSON(configuration: hub.configuration, lineage: record.lineage, links: links), pretty: true))
        return
    }
    print(RecordView.render(state, links: links, configuration: hub.configuration, lineage: record.lineage))
}

enum RecordView {
    static func render(_ state: SubjectState, links: [Link], configuration: Configuration, lineage: Bool) -> String {
        var lines = [Terminal.bold("\(state.subject)") + "  version \(state.version)"]
        var rows: [[String]] = []
        for name in state.attributes.keys.sorted() {
            guard let a = state.attributes[name] else { continue }
            let value = a.golden?.value ?? "—"
            let flag = a.openConflict.map { Terminal.red("conflict #\($0)") } ?? ""
            rows.append([name, value, a.golden?.source ?? "", a.golden.map { Timestamp.format($0.time) } ?? "", flag])
            if lineage {
                let rule = configuration.rule(state.subject.kind, name)
                let s = rule.map { Survivorship(rule: $0) }
                let ordered = a.statements.sorted { x, y in
                    if x.isActive != y.isActive { return x.isActive }
                    return s?.prefers(x, over: y) ?? (x.source < y.source)
                }
                for st in ordered {
                    let mark = st.value == nil ? "retracted" : st.rejected ? "rejected"
                        : (a.golden?.eventId == st.eventId && a.golden?.source == st.source ? "✓ winner" : "")
                    rows.append(["  ↳ " + st.source, st.value ?? "—", "event \(st.eventId) @\(st.position)", Timestamp.format(st.time), mark])
                }
                if let pin = a.pin { rows.append(["  ↳ pinned", pin.value, "by \(pin.steward) @\(pin.position)", Timestamp.format(pin.time), "✓ pinned"]) }
            }
        }
        lines.append(Terminal.table(["attribute", "value", "source", "effective", ""], rows))
        if !links.isEmpty {
            lines.append("")
            lines.append(Terminal.bold("links"))
            for l in links { lines.append("  \(l.role) → \(state.subject.kind == .person ? l.enterprise : l.person)") }
        }
        return lines.joined(separator: "\n")
    }
}

struct HistoryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history", abstract: "A subject's events, in log order.",
        discussion: "Example: yidang history person/11010519491231002X   (a 15-digit ID finds the 18-digit subject)")
    @OptionGroup var data: DataOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "person/<ID>, enterprise/<USCC>, or a bare identifier.") var subject: String

    func run() async throws {
        try await guarded {
            let hub = try data.openHub()
                defer { hub.close() }
            let parsed: Subject
            do {
                if subject.contains("/") { parsed = try hub.validator.parseSubject(subject, field: "subject") }
                else if let p = try? hub.validator.parseIdentifier(subject, kind: .person, field: "subject") { parsed = p }
                else { parsed = try hub.validator.parseIdentifier(subject, kind: .enterprise, field: "subject") }
            } catch { throw CLIError.failure("\(error)") }
            let events = try hub.reader.history(of: parsed)
            if output.json {
                print(JSONWriter.serialize(.array(events.map { .object($0.cloudEvent) }), pretty: true))
                return
            }
            guard !events.isEmpty else { throw CLIError.notFound("no events for \(parsed)") }
            print(Terminal.bold("\(parsed)") + "  \(events.count) events")
            print(Terminal.table(["position", "effective", "ingested", "source", "type", "data"], events.map { e in
                [String(e.position), e.timeText, Timestamp.format(e.ingestTime), e.source, e.type, JSONWriter.serialize(e.data)]
            }))
        }
    }
}
