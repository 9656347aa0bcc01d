import ArgumentParser
import Foundation
import JSON
import YidangModel

struct ConflictsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conflicts", abstract: "Find, inspect and settle conflicts (数据打架).",
        subcommands: [List.self, Show.self, Resolve.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list",
            abstract: "List conflicts (oldest first by default).",
            discussion: "Example: yidang conflicts list --attribute residenceAddress --source zhujian --older-than 7d --sort pair")
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions
        @Option(help: "open, resolved or all.") var status: String = "open"
        @Option(help: "person or enterprise.") var kind: String?
        @Option(help: "Only this attribute.") var attribute: String?
        @Option(help: "Only conflicts where this department is a candidate.") var source: String?
        @Option(name: .customLong("older-than"), help: "Only conflicts opened longer ago than this (e.g. 36h, 7d).") var olderThan: String?
        @Option(help: "age (oldest first), pair (by department pair, then age) or attribute (by attribute, then age).") var sort: String = "age"
        @Option(help: "At most this many.") var limit: Int = 1000

        func run() async throws {
            try await guarded {
                guard ["age", "pair", "attribute"].contains(sort) else { throw CLIError.failure("--sort: expected age, pair or attribute, got \(sort)") }
                var cutoff: Int64?
                if let olderThan {
                    guard let d = parseDuration(olderThan) else { throw CLIError.failure("--older-than: expected a duration such as 36h or 7d, got \(olderThan)") }
                    cutoff = Int64(Date().timeIntervalSince1970 * 1_000_000) - d
                }
                var q = ["status": status, "limit": String(limit)]
                if let kind { q["kind"] = kind }
                if let attribute { q["attribute"] = attribute }
                if let source { q["source"] = source }
                var list = try await withClient(try connection.client(readOnly: true)) { try await $0.conflicts(query: q) }
                if let cutoff { list = list.filter { ($0["openedAt"]?.stringValue).flatMap(Timestamp.parse).map { $0 <= cutoff } ?? false } }
                list = sorted(list)
                if output.json { print(JSONWriter.serialize(.array(list), pretty: true)); return }
                if list.isEmpty { print("no \(status == "all" ? "" : status + " ")conflicts"); return }
                print(Views.conflictList(list))
            }
        }

        func sorted(_ list: [JSONValue]) -> [JSONValue] {
            func pair(_ c: JSONValue) -> String {
                (c["candidates"]?.arrayValue ?? []).compactMap { $0["source"]?.stringValue }.sorted().joined(separator: "+")
            }
            func age(_ c: JSONValue) -> Int { c["openedPosition"]?.intValue ?? 0 }
            switch sort {
            case "pair": return list.sorted { (pair($0), age($0)) < (pair($1), age($1)) }
            case "attribute": return list.sorted { (Views.text($0["attribute"]), age($0)) < (Views.text($1["attribute"]), age($1)) }
            default: return list.sorted { age($0) < age($1) }
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show", abstract: "Show one conflict: each department's value, its time and event, and who wins.",
                                                        discussion: "Example: yidang conflicts show 12")
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions
        @Argument(help: "Conflict id.") var id: UInt64

        func run() async throws {
            try await guarded {
                let c = try await withClient(try connection.client(readOnly: true)) { try await $0.conflict(id: id) }
                print(output.json ? JSONWriter.serialize(c, pretty: true) : Views.conflict(c, departments: Configuration.default.departments))
            }
        }
    }

    struct Resolve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "resolve",
            abstract: "Settle a conflict: accept the winner, pin a value, or reject a department's value.",
            discussion: """
            Exactly one of --accept, --pin VALUE, --reject SOURCE. The decision is an event in the log
            (source steward). --reject sends a correction.requested notice to that department.
            The steward's name comes from the token (remote) or --as NAME (local, default $USER).
            A pinned value must be valid for the attribute and one of the candidates' values;
            --force pins a value no department asserted.
            Examples:
              yidang conflicts resolve 12 --accept --as 王芳
              yidang conflicts resolve 12 --pin "北京市朝阳区建国路88号" --as 王芳 --note "现场核实"
              yidang conflicts resolve 12 --reject zhujian --note "房管数据过期"
            """)
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions
        @Argument(help: "Conflict id.") var id: UInt64
        @Flag(help: "The survivorship winner stands.") var accept = false
        @Option(help: "This value wins until a later decision.") var pin: String?
        @Option(help: "This department's value is wrong; ask it to correct.") var reject: String?
        @Option(help: "A note for the record.") var note: String?
        @Flag(help: "Pin a value that none of the candidates holds.") var force = false
        @Option(name: .customLong("as"), help: "The steward's name (local mode).") var steward: String?

        func validate() throws {
            let n = (accept ? 1 : 0) + (pin != nil ? 1 : 0) + (reject != nil ? 1 : 0)
            guard n == 1 else { throw ValidationError("give exactly one of --accept, --pin VALUE, --reject SOURCE") }
            if force && pin == nil { throw ValidationError("--force goes with --pin VALUE") }
        }

        func run() async throws {
            try await guarded {
                let action = accept ? "accept" : pin != nil ? "pin" : "reject"
                let settled = try await withClient(try connection.client()) {
                    try await $0.resolve(id: id, action: action, value: pin, source: reject, note: note, steward: steward, force: force)
                }
                if output.json { print(JSONWriter.serialize(settled, pretty: true)); return }
                print(Views.conflict(settled, departments: Configuration.default.departments))
                if let reject { print("correction requested from \(reject)\(Configuration.default.departments[reject].map { " (\($0))" } ?? "")") }
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
