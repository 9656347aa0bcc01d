import Foundation
import Testing
@testable import RocksDB

@Suite struct BackgroundPriorityTests {
    /// The nice value of each of this process's threads named `name`.
    static func niceValues(ofThreadsNamed name: String) throws -> [Int] {
        try FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").compactMap { tid in
            guard let comm = try? String(contentsOfFile: "/proc/self/task/\(tid)/comm", encoding: .utf8),
                  comm.trimmingCharacters(in: .whitespacesAndNewlines) == name,
                  let stat = try? String(contentsOfFile: "/proc/self/task/\(tid)/stat", encoding: .utf8),
                  let end = stat.lastIndex(of: ")") else { return nil }
            // After the thread's name: the state is field 3 of proc(5)'s stat, nice field 19.
            let fields = stat[stat.index(after: end)...].split(separator: " ")
            return fields.count > 16 ? Int(fields[16]) : nil
        }
    }

    @Test func flushesAndCompactionsRunAtTheLowestCPUPriority() throws {
        let db = try Database(path: temporaryDirectory())
        // Two flushes (the flush pool's jobs) leave two files that a full compaction merges
        // (a job of the compaction pool).
        for round: UInt8 in 0..<2 {
            let batch = WriteBatch()
            for i: UInt8 in 0..<100 { batch.put([9, i, round], [i]) }
            try db.write(batch, sync: false)
            try db.flush()
        }
        try db.compactAll()
        let flushers = try Self.niceValues(ofThreadsNamed: "rocksdb:high")
        let compactors = try Self.niceValues(ofThreadsNamed: "rocksdb:low")
        // RocksDB keeps one flush thread; compaction threads that have not run a job since
        // the pools were lowered keep their priority until their next.
        #expect(!flushers.isEmpty && flushers.allSatisfy { $0 == 19 }, "flush threads' nice: \(flushers)")
        #expect(compactors.contains(19), "compaction threads' nice: \(compactors)")
        #expect(try db.get([9, 5, 1]) == [5])
        #expect(Database.backgroundPoolsLowered == 2)
    }
}
