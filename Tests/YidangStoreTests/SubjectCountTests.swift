import Foundation
import Identifiers
import RocksDB
import Testing
@testable import YidangStore

@Suite struct SubjectCountTests {
    private func count(_ db: Database) throws -> UInt64? {
        try db.get(Keys.subjectCountHint).map { Keys.readBE($0) }
    }

    private func person(_ n: Int) -> String { CitizenID.make(region: "330203", birth: "19800101", sequence: n) }

    /// The live writer counts the subjects it first sees, once each, and writes the count with
    /// the group; a rebuild counts them again (exactly) and writes that.
    @Test func theWriterAndARebuildCountEachSubjectOnce() async throws {
        let dir = tempDir()
        do {
            let hub = try Hub(directory: dir)
            defer { hub.close() }
            _ = try await hub.store.append([try personEvent(hub, id: "a", subject: person(1), data: ["name": "甲"]),
                                            try personEvent(hub, id: "b", subject: person(2), data: ["name": "乙"]),
                                            try personEvent(hub, id: "c", subject: person(1), data: ["gender": "1"])])
            #expect(try count(hub.database) == 2)
            // A subject seen before is not counted again, in a later group or after a reopen.
            _ = try await hub.store.append([try personEvent(hub, id: "d", subject: person(2), data: ["gender": "2"])])
            #expect(try count(hub.database) == 2)
        }
        do {
            let hub = try Hub(directory: dir)
            defer { hub.close() }
            _ = try await hub.store.append([try personEvent(hub, id: "e", subject: person(1), data: ["name": "甲甲"]),
                                            try personEvent(hub, id: "f", subject: person(3), data: ["name": "丙"])])
            #expect(try count(hub.database) == 3)
        }
        let (db, config) = try Hub.openDatabase(directory: dir, configPath: nil)
        defer { db.close() }
        try db.put(Keys.subjectCountHint, Keys.be(40))
        try Rebuilder.rebuild(from: db, into: db, configuration: config)
        #expect(try count(db) == 3)
    }

    /// The count only sizes a replay's cache: a replay sized by a count far too small or far
    /// too large, or by none (the log's subjects are counted instead), gives the same store.
    @Test func aReplayGivesTheSameStoreWhateverTheCountSays() async throws {
        let dir = tempDir()
        do {
            let hub = try Hub(directory: dir)
            defer { hub.close() }
            for g in 0..<4 {
                _ = try await hub.store.append((0..<50).map { n in
                    try! personEvent(hub, id: "g\(g)-\(n)", source: g % 2 == 0 ? "gongan" : "renshe", subject: person(n),
                                     data: ["name": .string("名\(n % 7)"), "phone": .string("1380000\(String(format: "%04d", g * 100 + n))")])
                })
            }
        }
        let (db, config) = try Hub.openDatabase(directory: dir, configPath: nil)
        defer { db.close() }
        let reference = try StoreDigest.compute(db)
        for hint: UInt64? in [1, 50, 1_000_000_000, nil] {
            if let hint { try db.put(Keys.subjectCountHint, Keys.be(hint)) } else { try db.delete(Keys.subjectCountHint) }
            // A small cache: records leave it and are read back unless the count holds them all.
            try Rebuilder.rebuild(from: db, into: db, configuration: config, batchSize: 20, cacheLimit: 12, cacheCeiling: 200)
            #expect(try StoreDigest.compute(db) == reference, "count \(hint.map(String.init) ?? "none")")
            #expect(try count(db) == 50)
        }
        let report = try Verifier.verify(database: db, configuration: config, scratchDirectory: tempDir())
        #expect(report.isConsistent, "\(report.mismatches)")
    }
}
