import Foundation
import Synchronization
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JSON
import NIOCore
import Testing
import YidangModel
@testable import YidangServer
@testable import YidangStore

/// `POST /v1/backup` on a hub under publish load: the backup restores to a store that
/// verifies and holds every event acknowledged before the backup began.
@Suite struct OnlineBackupTests {
    @Test func aBackupUnderLoadHoldsEveryEventAcknowledgedBeforeIt() async throws {
        let f = try Fixture()
        defer { f.hub.close() }
        let destination = tempDir() + "/backup"
        try await f.run { client in
            actor Acknowledged { var ids: [String] = []; func add(_ id: String) { ids.append(id) }; func all() -> [String] { ids } }
            let acked = Acknowledged()
            let stop = ManagedAtomicFlag()
            // Four publishers keep publishing while the backup is taken.
            let load = Task {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for w in 0..<4 {
                        group.addTask {
                            var n = 0
                            while !stop.isSet {
                                n += 1
                                let id = "load-\(w)-\(n)"
                                let subject = "person/" + citizen(w * 100_000 + n)
                                let r = try await client.execute(uri: "/v1/events", method: .post, headers: f.headers("gongan"),
                                                                 body: body(event(id, subject: subject, data: ["name": .string("压测\(n)")])))
                                if r.status == .created { await acked.add(id) }
                            }
                        }
                    }
                    try await group.waitForAll()
                }
            }
            // Some acknowledged, and more on the way while the backup is written.
            let deadline = ContinuousClock.now + .seconds(60)
            while await acked.all().count < 20, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
            let before = await acked.all()
            let answer = try await client.execute(uri: "/v1/backup", method: .post, headers: f.headers("admin", "application/json"),
                                                  body: body(["destination": .string(destination)]))
            #expect(answer.status == .created)
            let position = try #require(try json(answer)["position"]?.intValue)
            try await Task.sleep(for: .milliseconds(200))
            stop.set()
            try await load.value
            #expect(before.count > 10)
            #expect(position >= before.count)

            // Refusals name the field and store nothing.
            let again = try await client.execute(uri: "/v1/backup", method: .post, headers: f.headers("admin", "application/json"),
                                                 body: body(["destination": .string(destination)]))
            #expect(again.status == .conflict)
            #expect(try json(again)["field"] == "destination")
            for bad: JSONValue in [["destination": "relative/dir"], [:], ["destination": .string(f.hub.directory + "/inside")]] {
                let r = try await client.execute(uri: "/v1/backup", method: .post, headers: f.headers("admin", "application/json"), body: body(bad))
                #expect(r.status == .unprocessableContent, "\(bad)")
            }
            #expect(try await client.execute(uri: "/v1/backup", method: .post, headers: f.headers("steward", "application/json"),
                                             body: body(["destination": "/tmp/x"])).status == .forbidden)

            let restored = tempDir() + "/restored"
            try Hub.restore(from: destination, to: restored)
            let (db, config) = try Hub.openDatabase(directory: restored, configPath: nil, compacting: false)
            defer { db.close() }
            let report = try Verifier.verify(database: db, configuration: config, scratchDirectory: tempDir() + "/scratch")
            #expect(report.isConsistent, "\(report.mismatches)")
            let reader = StoreReader(database: db, configuration: config)
            let missing = try before.filter { try reader.position(source: "gongan", id: $0) == nil }
            #expect(missing.isEmpty, "acknowledged before the backup but not in it: \(missing.prefix(5))")
            #expect(try reader.headPosition() >= UInt64(position))
        }
    }
}

/// A flag set once, read by many tasks.
final class ManagedAtomicFlag: Sendable {
    private let value = Mutex(false)
    var isSet: Bool { value.withLock { $0 } }
    func set() { value.withLock { $0 = true } }
}

/// A valid 公民身份号码 for `n` (distinct n, distinct numbers).
func citizen(_ n: Int) -> String {
    let body = "110105" + String(format: "%04d%02d%02d", 1950 + n / 336 % 50, n / 28 % 12 + 1, n % 28 + 1) + String(format: "%03d", n / 16800 % 1000)
    let weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    let sum = zip(body, weights).reduce(0) { $0 + Int(String($1.0))! * $1.1 }
    return body + String(Array("10X98765432")[sum % 11])
}
