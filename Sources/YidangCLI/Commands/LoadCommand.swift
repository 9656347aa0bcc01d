import ArgumentParser
import Foundation
import YidangModel
import YidangStore
import Identifiers

/// A load generator for crash tests and benchmarks: concurrent single-event appends,
/// printing one `ack SOURCE ID POSITION` line per acknowledged (durable) event.
struct AppendLoadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "append-load", abstract: "Concurrent durable appends (testing aid).",
                                                    shouldDisplay: false)
    @OptionGroup var data: DataOptions
    @Option var count = 1000
    @Option var concurrency = 8
    @Option var prefix = "load"

    func run() async throws {
        try await guarded {
            let hub = try data.openHub()
            defer { hub.close() }
            let validator = hub.validator
            let out = FileHandle.standardOutput
            try await withThrowingTaskGroup(of: Void.self) { group in
                for worker in 0..<concurrency {
                    group.addTask {
                        var i = worker
                        while i < count {
                            let id = CitizenIDFactory.make(i)
                            let json = """
                            {"specversion":"1.0","id":"\(prefix)-\(i)","source":"gongan","type":"person.updated","subject":"person/\(id)","time":"2026-11-20T08:00:00+08:00","data":{"name":"测试\(prefix)-\(i)","regionCode":"330203"}}
                            """
                            let event = try validator.validate(bytes: Array(json.utf8), now: EventStore.now())
                            let result = try await hub.store.append([event])
                            if let p = result.first?.position { out.write(Data("ack gongan \(prefix)-\(i) \(p)\n".utf8)) }
                            i += concurrency
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
    }
}

enum CitizenIDFactory {
    static func make(_ i: Int) -> String {
        let days = i % 3650
        var comps = DateComponents()
        comps.year = 1960; comps.month = 1; comps.day = 1
        let cal = Calendar(identifier: .gregorian)
        let date = cal.date(byAdding: .day, value: days, to: cal.date(from: comps) ?? Date()) ?? Date()
        let c = cal.dateComponents(in: TimeZone(identifier: "UTC") ?? .current, from: date)
        let birth = String(format: "%04d%02d%02d", c.year ?? 1960, c.month ?? 1, c.day ?? 1)
        return Identifiers.CitizenID.make(region: "330203", birth: birth, sequence: i / 3650 % 1000)
    }
}
