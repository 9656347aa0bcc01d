import ArgumentParser
import Foundation
import JSON
import YidangModel

/// The review queue of identity resolution (跨系统匹配): `yidang matches list|show|confirm|reject`.
struct MatchesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "matches", abstract: "Review uncertain matches of records without a national identifier.",
        subcommands: [List.self, Show.self, Confirm.self, Reject.self, Train.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "The review queue, highest score first.",
                                                        discussion: "Example: yidang matches list --status open --kind person")
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions
        @Option(help: "open, confirmed, rejected or all.") var status: String = "open"
        @Option(help: "person or enterprise.") var kind: String?
        @Option(help: "At most this many.") var limit: Int = 1000

        func run() async throws {
            try await guarded {
                var q = ["status": status, "limit": String(limit)]
                if let kind { q["kind"] = kind }
                let list = try await withClient(try connection.client(readOnly: true)) { try await $0.matches(query: q) }
                if output.json { print(JSONWriter.serialize(.array(list), pretty: true)); return }
                if list.isEmpty { print("no \(status == "all" ? "" : status + " ")review tasks"); return }
                print(Terminal.table(["id", "score", "record", "candidate", "status"], list.map { t in
                    [Views.text(t["id"]), Views.text(t["score"]), Views.text(t["record"]), Views.text(t["candidate"]), Views.text(t["status"])]
                }))
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show", abstract: "A review task: both records side by side, each comparison's level and weight.",
                                                        discussion: "Example: yidang matches show 7")
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions
        @Argument(help: "Review task id.") var id: UInt64

        func run() async throws {
            try await guarded {
                let t = try await withClient(try connection.client(readOnly: true)) { try await $0.match(id: id) }
                if output.json { print(JSONWriter.serialize(t, pretty: true)); return }
                print("review task \(Views.text(t["id"]))  \(Views.text(t["status"]))  score \(Views.text(t["score"])) (now \(Views.text(t["scoreNow"])))")
                let rows = (t["comparisons"]?.arrayValue ?? []).map { c in
                    [Views.text(c["attribute"]), (c["record"]?.arrayValue ?? []).map(Views.text).joined(separator: " / "),
                     (c["candidate"]?.arrayValue ?? []).map(Views.text).joined(separator: " / "), Views.text(c["level"]), Views.text(c["weight"])]
                }
                print(Terminal.table(["attribute", Views.text(t["recordNow"]), Views.text(t["candidateNow"]), "level", "weight"], rows))
            }
        }
    }

    /// What confirming and rejecting a review task take.
    struct Decision: ParsableArguments {
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions
        @Argument(help: "Review task id.") var id: UInt64
        @Option(help: "A note for the record.") var note: String?
        @Option(name: .customLong("as"), help: "The steward's name (local mode).") var steward: String?

        func run(confirm: Bool) async throws {
            try await guarded {
                let t = try await withClient(try connection.client()) { try await $0.decideMatch(id: id, confirm: confirm, note: note, steward: steward) }
                if output.json { print(JSONWriter.serialize(t, pretty: true)); return }
                let pair = "\(Views.text(t["record"])) and \(Views.text(t["candidate"]))"
                print(confirm ? "review task \(id) confirmed: \(pair) are one record, \(Views.text(t["survivor"]))"
                              : "review task \(id) rejected: \(pair) stay apart")
            }
        }
    }

    struct Confirm: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "confirm",
            abstract: "The two records are one: merge them (the survivor keeps a national identifier, else the older hub identifier).",
            discussion: "Example: yidang matches confirm 7 --note \"电话核实\"")
        @OptionGroup var decision: Decision
        func run() async throws { try await decision.run(confirm: true) }
    }

    struct Reject: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "reject", abstract: "The two records are different entities; never proposed again.",
                                                        discussion: "Example: yidang matches reject 7 --note \"同名不同人\"")
        @OptionGroup var decision: Decision
        func run() async throws { try await decision.run(confirm: false) }
    }
}

struct MergeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge", abstract: "Merge two golden records; the other reads as the survivor (mergedInto).",
        discussion: "Example: yidang merge person/YD0000000042 --into person/11010519491231002X --note \"户籍核实\"")
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "The record to absorb.") var subject: String
    @Option(help: "The record to merge it into.") var into: String
    @Option(help: "A note for the record.") var note: String?
    @Option(name: .customLong("as"), help: "The steward's name (local mode).") var steward: String?

    func run() async throws {
        try await guarded {
            let r = try await withClient(try connection.client()) { try await $0.merge(from: subject, into: into, note: note, steward: steward) }
            if output.json { print(JSONWriter.serialize(r, pretty: true)); return }
            print("merged: \(Views.text(r["absorbed"])) reads as \(Views.text(r["survivor"]))")
        }
    }
}

struct UnmergeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unmerge", abstract: "Take a department's record out of its golden record into a new one.",
        discussion: "Example: yidang unmerge --source tongji --key S-1 --note \"误匹配\"")
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions
    @Option(help: "The department whose record it is.") var source: String
    @Option(help: "The department's record key.") var key: String
    @Option(help: "person or enterprise.") var kind: String = "person"
    @Option(help: "A note for the record.") var note: String?
    @Option(name: .customLong("as"), help: "The steward's name (local mode).") var steward: String?

    func run() async throws {
        try await guarded {
            let r = try await withClient(try connection.client()) {
                try await $0.unmerge(source: source, key: key, kind: kind, note: note, steward: steward)
            }
            if output.json { print(JSONWriter.serialize(r, pretty: true)); return }
            print("unmerged: \(source) \(key) is now \(Views.text(r["subject"]))")
        }
    }
}

struct CrosswalksCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crosswalks", abstract: "Every department record key and the golden record it reads as.",
        discussion: "Example: yidang crosswalks --source tongji --json")
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions
    @Option(help: "Only this department's records.") var source: String?
    @Option(help: "Only this key (with --source).") var key: String?
    @Option(help: "person or enterprise.") var kind: String?

    func run() async throws {
        try await guarded {
            if key != nil && source == nil { throw CLIError.failure("--key needs --source") }
            var q: [String: String] = [:]
            if let source { q["source"] = source }
            if let key { q["key"] = key }
            if let kind { q["kind"] = kind }
            let list = try await withClient(try connection.client(readOnly: true)) { try await $0.crosswalks(query: q) }
            if output.json { print(JSONWriter.serialize(.array(list), pretty: true)); return }
            if list.isEmpty { print("no crosswalks"); return }
            print(Terminal.table(["source", "key", "subject"], list.map { [Views.text($0["source"]), Views.text($0["key"]), Views.text($0["subject"])] }))
        }
    }
}
