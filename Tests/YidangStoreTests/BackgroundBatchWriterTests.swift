import Foundation
import RocksDB
import Testing
import YidangModel
import YidangProjection
@testable import YidangStore

@Suite struct BackgroundBatchWriterTests {
    @Test func writesBatchesInSubmissionOrder() throws {
        let db = try Database(path: tempDir() + "/db")
        defer { db.close() }
        let files = try ReplayFiles(database: db, directory: db.path + ".ingest")
        let writer = BackgroundBatchWriter(database: db, replayFiles: files, depth: 2)
        // The same key in every batch: only submission order leaves the last value.
        try writer.waitUntilWritten(through: 0)          // nothing submitted: returns at once
        func subject(_ i: Int) -> Subject { Subject(kind: .person, id: "p\(i)") }
        for i in 0..<50 {
            let writes = DeferredWrites()
            writes.put([0x7F, 1], [UInt8(i)])
            writes.put([0x7F, 2, UInt8(i)], [1])
            if i % 2 == 1 { writes.delete([0x7F, 2, UInt8(i - 1)]) }
            writes.putGolden(SubjectState(subject: subject(i)))
            #expect(try writer.submit(writes) == i + 1)
            if i == 20 {
                // Batch 20 and those before are in the database, whatever follows. Golden
                // records go through the memtable (a replay reads back those leaving its cache);
                // the small writes wait in the replay's files.
                try writer.waitUntilWritten(through: 20)
                #expect(try db.get(Keys.goldenKey(subject(19))) != nil)
                #expect(try db.get([0x7F, 1]) == nil)
            }
        }
        try writer.drain()
        #expect(try db.get(Keys.goldenKey(subject(49))) != nil)
        try files.ingest()
        #expect(try db.get([0x7F, 1]) == [49])
        var kept: [UInt8] = []
        try db.scan(from: [0x7F, 2], to: [0x7F, 3]) { k, _ in kept.append(k[2]); return true }
        let odd: [UInt8] = stride(from: 1, to: 50, by: 2).map { UInt8($0) }
        #expect(kept == odd)
    }

    @Test func aFailedWriteIsReportedAndLaterBatchesAreSkipped() throws {
        let db = try Database(path: tempDir() + "/db")
        let writer = BackgroundBatchWriter(database: db, replayFiles: try ReplayFiles(database: db, directory: db.path + ".ingest"))
        db.close()
        let writes = DeferredWrites()
        writes.put([0x7F], [1])
        try writer.submit(writes)
        #expect(throws: RocksDBError.self) { try writer.drain() }
        #expect(throws: RocksDBError.self) { try writer.submit(writes) }
    }
}
