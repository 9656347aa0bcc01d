import Foundation
import Identifiers
import RocksDB
import Testing
@testable import YidangStore

@Suite struct RebuildCompactionTests {
    /// As many level-0 files as start a compaction: that many groups, each flushed, never merged.
    private static let groups = Int(DatabaseOptions().levelZeroCompactionTrigger)

    private func storeWithLevel0Files(_ dir: String) async throws {
        let hub = try Hub(directory: dir, compacting: false)
        for g in 0..<Self.groups {
            _ = try await hub.store.append([try personEvent(hub, id: "g\(g)",
                                                            subject: CitizenID.make(region: "330203", birth: "19800101", sequence: g),
                                                            data: ["name": .string("甲\(g)")])])
            try hub.database.flush()
        }
        hub.close()
    }

    private func level0Files(_ db: Database) throws -> Int {
        Int(try db.property("rocksdb.num-files-at-level0") ?? "") ?? -1
    }

    /// Opened without automatic compactions (as `yidang rebuild` opens it), the store keeps
    /// them off after a replay, and nothing merges its level 0 before it closes (RocksDB would
    /// finish such a merge at close rather than cancel it). Opened with them, they are on again
    /// afterwards and level 0 is merged.
    @Test func aRebuildLeavesCompactionsAsItFoundThem() async throws {
        let dir = tempDir()
        try await storeWithLevel0Files(dir)
        do {
            let (db, config) = try Hub.openDatabase(directory: dir, configPath: nil, compacting: false)
            defer { db.close() }
            #expect(try level0Files(db) >= Self.groups)
            try Rebuilder.rebuild(from: db, into: db, configuration: config)
            #expect(!db.autoCompactions)
            let after = try level0Files(db)
            #expect(after > Self.groups)   // the replay's own files joined them
            try await Task.sleep(for: .milliseconds(300))
            #expect(try level0Files(db) == after)
        }
        let (db, config) = try Hub.openDatabase(directory: dir, configPath: nil)
        defer { db.close() }
        // Merged at four files, which the replay's own files reach (below the store's own
        // trigger, a serving store leaves them for later flushes to join).
        try db.setLevel0Triggers(compaction: 4)
        try Rebuilder.rebuild(from: db, into: db, configuration: config)
        #expect(db.autoCompactions)
        for _ in 0..<100 where try level0Files(db) >= 4 { try await Task.sleep(for: .milliseconds(100)) }
        #expect(try level0Files(db) < 4)
        let report = try Verifier.verify(database: db, configuration: config, scratchDirectory: tempDir())
        #expect(report.isConsistent, "\(report.mismatches)")
    }
}
