import ArgumentParser
import Foundation
import JSON
import YidangMatching
import YidangModel
import YidangStore

extension MatchesCommand {
    struct Train: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "train",
            abstract: "Learn the matching weights (m/u) from NDJSON events, without labels.",
            discussion: """
            Reads CloudEvents (the registry and the records without an identifier alike), groups them
            into records by subject, and estimates u from random pairs and m by expectation-maximisation
            over the blocked pairs, one session per blocking rule; the prior is the share of matches among
            the pairs with a record without a national identifier (person/local/…), the only pairs the
            matcher scores. The weights are stored in the data
            directory (matching.json) and used from the hub's next start; decisions already made stay.
            Example: yidang matches train registry.ndjson records.ndjson
            """)
        @OptionGroup var data: DataOptions
        @OptionGroup var output: OutputOptions
        @Argument(help: "NDJSON files of CloudEvents.") var files: [String]
        @Option(help: "person or enterprise.") var kind: String = "person"
        @Option(name: .customLong("random-pairs"), help: "Random pairs drawn to estimate u.") var randomPairs: Int = 200_000

        func run() async throws {
            try await guarded {
                guard let kind = EntityKind(rawValue: kind) else { throw CLIError.failure("--kind: expected person or enterprise, got \(self.kind)") }
                let hub = try data.openHub()
                defer { hub.close() }
                guard let settings = hub.configuration.matching(kind) else {
                    throw CLIError.failure("the configuration has no matching.\(kind.rawValue) section")
                }
                var records: [Subject: [String: [String]]] = [:]
                let now = EventStore.now()
                for file in files {
                    guard let text = FileManager.default.contents(atPath: file) else { throw CLIError.notFound("file \(file)") }
                    for line in text.split(separator: UInt8(ascii: "\n")) where !line.isEmpty {
                        // Lines the hub would refuse are skipped: training reads what would be stored.
                        guard let event = try? hub.validator.validate(bytes: line, now: now), event.subject.kind == kind,
                              case .assert(let list) = event.body else { continue }
                        for a in list where settings.compare[a.attribute] != nil {
                            var values = records[event.subject, default: [:]][a.attribute] ?? []
                            if !values.contains(a.value) { values.append(a.value) }
                            records[event.subject, default: [:]][a.attribute] = values
                        }
                    }
                }
                guard randomPairs > 0 else { throw CLIError.failure("--random-pairs: expected a positive number, got \(randomPairs)") }
                var trainer = MatchTrainer(settings: settings)
                trainer.randomPairs = randomPairs
                let subjects = records.keys.sorted()
                let report = trainer.train(subjects.map { records[$0]! }, arriving: subjects.map(\.isLocal))
                var models = try MatchModels.load(directory: data.directory)
                models[kind] = report.model
                try MatchModels.save(models, directory: data.directory)
                if output.json {
                    print(JSONWriter.serialize(["records": JSONValue(report.records), "blockedPairs": JSONValue(report.blockedPairs),
                                                "randomPairs": JSONValue(report.randomPairs),
                                                "prior": .number(String(report.model.prior)),
                                                "file": .string(MatchModels.path(directory: data.directory))], pretty: true))
                    return
                }
                print("\(report.records) records, \(report.blockedPairs) blocked pairs, \(report.randomPairs) random pairs; "
                      + "prior \(String(format: "%.3g", report.model.prior)); saved to \(MatchModels.path(directory: data.directory))")
                var rows: [[String]] = []
                for attribute in report.model.attributes.keys.sorted() {
                    let p = report.model.attributes[attribute]!
                    for (rank, label) in p.comparator.levels.enumerated() {
                        rows.append([attribute, label, String(format: "%.4f", p.m[rank]), String(format: "%.6f", p.u[rank]),
                                     String(format: "%+.2f", log2(max(p.m[rank], 1e-9) / max(p.u[rank], 1e-9)))])
                    }
                }
                print(Terminal.table(["attribute", "level", "m", "u", "weight"], rows))
            }
        }
    }
}
