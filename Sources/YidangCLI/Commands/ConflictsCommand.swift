import ArgumentParser
import Foundation
import JSON
import YidangModel
import YidangProjection
import YidangStore

struct ConflictsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conflicts", abstract: "Find, inspect and settle conflicts (数据打架).",
        subcommands: [List.self, Show.self, Resolve.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List conflicts, oldest first.",
            discussion: "Example: yidang conflicts list --attribute residenceAddress --source zhujian --older-than 7d")
        @OptionGroup var data: DataOptions
        @OptionGroup var output: OutputOptions
        @Option(help: "open, resolved or all.") var status: String = "open"
        @Option(help: "person or enterprise.") var kind: String?
        @Option(help: "Only this attribute.") var attribute: String?
        @Option(help: "Only conflicts where this department is a candidate.") var source: String?
        @Option(name: .customLong("older-than"), help: "Only conflicts open longer than this (e.g. 36h, 7d).") var olderThan: String?
        @Option(help: "At most this many.") var limit: Int = 1000

        func run() async throws {
            try await guarded {
                let hub = try data.openHub()
                defer { hub.close() }
                var f = ConflictFilter()
                guard let st = ConflictFilter.Status(rawValue: status) else { throw CLIError.failure("--status: expected open, resolved or all, got \(status)") }
                f.status = st
                if let kind {
                    guard let k = EntityKind(rawValue: kind) else { throw CLIError.failure("--kind: expected person or enterprise, got \(kind)") }
                    f.kind = k
                }
                f.attribute = attribute
                f.source = source
                f.limit = limit
                if let olderThan {
                    guard let d = parseDuration(olderThan) else { throw CLIError.failure("--older-than: expected a duration such as 36h or 7d, got \(olderThan)") }
                    f.openedBefore = EventStore.now() - d
                }
                let list = try hub.reader.conflicts(f)
                if output.json {
                    print(JSONWriter.serialize(.array(list.map { $0.json(configuration: hub.configuration) }), pretty: true))
                    return
                }
                if list.isEmpty { print("no \(status == "all" ? "" : status + " ")conflicts"); return }
                print(Terminal.table(["id", "status", "subject", "attribute", "candidates", "opened"], list.map { c in
                    [String(c.id), c.status == .open ? Terminal.red("open") : Terminal.green("resolved"), c.subject.description, c.attribute,
                     c.candidates.map { "\($0.source)=\($0.value)" }.joined(separator: " | "), Timestamp.format(c.openedTime)]
                }))
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one conflict: each department's value, its time and event, and who wins.",
                                                        discussion: "Example: yidang conflicts show 12")
        @OptionGroup var data: DataOptions
        @OptionGroup var output: OutputOptions
        @Argument(help: "Conflict id.") var id: UInt64

        func run() async throws {
            try await guarded {
                let hub = try data.openHub()
                defer { hub.close() }
                guard let c = try hub.reader.conflict(id: id) else { throw CLIError.notFound("no conflict \(id)") }
                if output.json { print(JSONWriter.serialize(c.json(configuration: hub.configuration), pretty: true)); return }
                print(ConflictView.render(c, configuration: hub.configuration))
            }
        }
    }

    struct Resolve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Settle a conflict: accept the winner, pin a value, or reject a department's value.",
            discussion: """
            Exactly one of --accept, --pin VALUE, --reject SOURCE. The decision is an event in the log
            (source steward). --reject sends a correction.requested notice to that department.
            Examples:
              yidang conflicts resolve 12 --accept --as 王芳
              yidang conflicts resolve 12 --pin "北京市朝阳区建国路88号" --as 王芳 --note "现场核实"
              yidang conflicts resolve 12 --reject zhujian --as 王芳 --note "房管数据过期"
            """)
        @OptionGroup var data: DataOptions
        @OptionGroup var output: OutputOptions
        @Argument(help: "Conflict id.") var id: UInt64
        @Flag(help: "The survivorship winner stands.") var accept = false
        @Option(help: "This value wins until a later decision.") var pin: String?
        @Option(help: "This department's value is wrong; ask it to correct.") var reject: String?
        @Option(help: "A note for the record.") var note: String?
        @Option(name: .customLong("as"), help: "The steward's name (local mode; default $USER).") var steward: String?

        func validate() throws {
            let n = (accept ? 1 : 0) + (pin != nil ? 1 : 0) + (reject != nil ? 1 : 0)
            guard n == 1 else { throw ValidationError("give exactly one of --accept, --pin VALUE, --reject SOURCE") }
        }

        func run() async throws {
            try await guarded {
                let hub = try data.openHub()
                defer { hub.close() }
                guard let c = try hub.reader.conflict(id: id) else { throw CLIError.notFound("no conflict \(id)") }
                let action: StewardDecision.Action = accept ? .accept : pin != nil ? .pin : .reject
                let name = steward ?? ProcessInfo.processInfo.environment["USER"] ?? "steward"
                let event: Event
                do {
                    event = try Steward.decision(conflict: c, action: action, value: pin, source: reject, steward: name, note: note,
                                                 configuration: hub.configuration, now: EventStore.now())
                } catch let e as EventRejection { throw CLIError.failure(e.description) }
                let result = try await hub.store.append([event])
                if case .rejected(let r)? = result.first { throw CLIError.failure(r.description) }
                guard let settled = try hub.reader.conflict(id: id) else { throw CLIError.notFound("no conflict \(id)") }
                if output.json { print(JSONWriter.serialize(settled.json(configuration: hub.configuration), pretty: true)); return }
                print(ConflictView.render(settled, configuration: hub.configuration))
                if action == .reject, let reject { print("correction requested from \(reject) (\(hub.configuration.departments[reject] ?? reject))") }
            }
        }
    }
}

func parseDuration(_ s: String) -> Int64? {
    guard let unit = s.last, let n = Int64(s.dropLast()), n >= 0 else { return nil }
    switch unit {
    case "s": return n * 1_000_000
    case "m": return n * 60_000_000
    case "h": return n * 3_600_000_000
    case "d": return n * 86_400_000_000
    default: return nil
    }
}

enum ConflictView {
    static func render(_ c: Conflict, configuration: Configuration) -> String {
        var out = [Terminal.bold("conflict #\(c.id)") + "  " + (c.status == .open ? Terminal.red("open") : Terminal.green("resolved"))
                   + "  \(c.subject)  \(c.attribute)"]
        let precedence = configuration.rule(c.subject.kind, c.attribute)?.precedence ?? []
        out.append("precedence: " + (precedence.isEmpty ? "recency" : precedence.joined(separator: " > ") + ", then recency"))
        out.append(Terminal.table(["department", "value", "effective", "event", ""], c.candidates.map { cand in
            let name = configuration.departments[cand.source].map { "\(cand.source) \($0)" } ?? cand.source
            return [name, cand.value, Timestamp.format(cand.time), "\(cand.eventId) @\(cand.position)",
                    cand.value == c.winner ? Terminal.green("✓ wins") : ""]
        }))
        if let r = c.resolution {
            var line = "resolution: \(r.action.rawValue)"
            if let v = r.value { line += " \(v)" }
            if let s = r.source { line += " (\(s))" }
            if let by = r.steward { line += " by \(by)" }
            if let n = r.note { line += " — \(n)" }
            out.append(line + "  at \(Timestamp.format(r.time))")
        }
        return out.joined(separator: "\n")
    }
}
