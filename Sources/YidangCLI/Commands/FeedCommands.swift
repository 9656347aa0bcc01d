import ArgumentParser
import Foundation
import JSON
import YidangModel
import YidangStore

struct ChangesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "changes", abstract: "The change feed: golden-record deltas and correction notices, in order.",
        discussion: "Example: yidang changes --after 120 --limit 50 --json")
    @OptionGroup var data: DataOptions
    @OptionGroup var output: OutputOptions
    @Option(help: "Start after this change position.") var after: UInt64 = 0
    @Option(help: "At most this many.") var limit: Int = 100

    func run() async throws {
        try await guarded {
            let hub = try data.openHub()
                defer { hub.close() }
            let list = try hub.reader.changes(after: after, limit: limit)
            if output.json {
                let next = list.last?.position ?? after
                print(JSONWriter.serialize(["changes": .array(list.map { $0.json(configuration: hub.configuration) }),
                                            "next": JSONValue(next)], pretty: true))
                return
            }
            if list.isEmpty { print("no changes after \(after)"); return }
            print(Terminal.table(["position", "type", "subject", "version", "changes"], list.map { c in
                let what: String
                if c.kind == .correction {
                    what = "→ \(c.department ?? "?"): \(c.attribute ?? "") \"\(c.rejectedValue ?? "")\" rejected (conflict #\(c.conflictId ?? 0))"
                } else {
                    var parts = c.changes.map { "\($0.attribute): \($0.old ?? "∅") → \($0.new ?? "∅") [\($0.source ?? "")]" }
                    parts += c.conflictsOpened.map { "opened #\($0)" } + c.conflictsClosed.map { "closed #\($0)" }
                    what = parts.joined(separator: "; ")
                }
                return [String(c.position), c.kind.rawValue, c.subject.description, String(c.version), what]
            }))
        }
    }
}

struct QualityCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quality", abstract: "Per-department data quality: accepted, rejected by reason, conflicts, corrections.")
    @OptionGroup var data: DataOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await guarded {
            let hub = try data.openHub()
                defer { hub.close() }
            let q = try hub.reader.quality()
            if output.json {
                print(JSONWriter.serialize(.array(q.map { $0.json(configuration: hub.configuration) }), pretty: true))
                return
            }
            print(Terminal.table(["department", "accepted", "rejected", "conflicts opened", "corrections", "rejected by reason"], q.map { d in
                [d.department + " " + (hub.configuration.departments[d.department] ?? ""), String(d.accepted), String(d.rejectedTotal),
                 String(d.conflictsOpened), String(d.corrections),
                 d.rejected.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")]
            }))
        }
    }
}

extension DepartmentQuality {
    func json(configuration: YidangModel.Configuration) -> JSONValue {
        var reasons = JSONObject()
        for (k, v) in rejected.sorted(by: { $0.key < $1.key }) { reasons[k] = JSONValue(v) }
        return ["department": .string(department), "name": JSONValue(configuration.departments[department]),
                "accepted": JSONValue(accepted), "rejected": JSONValue(rejectedTotal), "rejectedByReason": .object(reasons),
                "conflictsOpened": JSONValue(conflictsOpened), "corrections": JSONValue(corrections)]
    }
}
