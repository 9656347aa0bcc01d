import Foundation
import CRocksDB
import Testing
import TestSupport
@testable import RocksDB

func temporaryDirectory(_ name: String = #function) -> String {
    TestDirectories.make("rocksdb", for: name)
}

/// Waits until `db` has no flush or compaction running or due, or `seconds` have passed.
func waitForBackgroundWork(_ db: Database, seconds: Double) throws {
    let deadline = Date().addingTimeInterval(seconds)
    while try db.backgroundWorkPending(), Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
}

@Suite struct DatabaseTests {
    @Test func putGetDeleteAndMissingKeys() throws {
        let db = try Database(path: temporaryDirectory())
        try db.put([1, 2], [9, 9, 9])
        #expect(try db.get([1, 2]) == [9, 9, 9])
        #expect(try db.get([1, 3]) == nil)
        let b = WriteBatch()
        b.delete([1, 2])
        b.put([1, 4], [])
        #expect(b.count == 2)
        try db.write(b, sync: true)
        #expect(try db.get([1, 2]) == nil)
        #expect(try db.get([1, 4]) == [])
    }

    @Test func scanRespectsBothBoundsInBothDirections() throws {
        let db = try Database(path: temporaryDirectory())
        let b = WriteBatch()
        for i: UInt8 in 0..<10 { b.put([7, i], [i]) }
        b.put([6, 0xFF], [1]); b.put([8], [1])
        try db.write(b, sync: false)
        var keys: [[UInt8]] = []
        try db.scan(from: [7, 2], to: [7, 5]) { k, _ in keys.append(k); return true }
        #expect(keys == [[7, 2], [7, 3], [7, 4]])
        keys = []
        try db.scan(from: [7], to: [8], reverse: true) { k, _ in keys.append(k); return keys.count < 3 }
        #expect(keys == [[7, 9], [7, 8], [7, 7]])
    }

    @Test func deleteRangeRemovesOnlyTheRange() throws {
        let db = try Database(path: temporaryDirectory())
        for i: UInt8 in 0..<5 { try db.put([i], [i], sync: false) }
        let b = WriteBatch()
        b.deleteRange(from: [1], to: [3])
        try db.write(b, sync: true)
        var keys: [[UInt8]] = []
        try db.scan(from: [0], to: [9]) { k, _ in keys.append(k); return true }
        #expect(keys == [[0], [3], [4]])
    }

    /// The batched lookup answers each key as `get` does — from the memtable, from table
    /// files of several levels, through deletes and range deletes — in the order asked,
    /// repeated and unsorted keys included.
    @Test func batchedLookupAnswersEachKeyAsGetDoes() throws {
        let path = temporaryDirectory()
        let db = try Database(path: path + "/db")
        #expect(try db.get([[UInt8]]()) == [])
        // One-byte keys: a range deletion starts at one (see `WriteBatch.deleteRange`).
        for i: UInt8 in 0..<40 { try db.put([i], [i, i], sync: false) }
        try db.flush()
        try db.compactAll()                                                  // below level 0
        for i: UInt8 in 40..<60 { try db.put([i], [i], sync: false) }
        try db.flush()                                                       // level 0
        try FileManager.default.createDirectory(atPath: path + "/in", withIntermediateDirectories: true)
        let file = try db.sortedFileWriter(path: path + "/in/a.sst")
        try file.delete([3])
        try file.put([61], [61])
        #expect(try file.finish())
        try db.ingest([file.file])                                           // an ingested file
        let b = WriteBatch()
        b.put([10], [])                                                      // memtable over a file
        b.deleteRange(from: [20], to: [25])
        try db.write(b, sync: false)
        // Keys that agree on more than their first sixteen bytes (the sort compares sixteen at a time).
        let long = (0..<6).map { [UInt8(7)] + [UInt8](repeating: 1, count: 20) + [UInt8($0 * 3)] }
        for k in long.prefix(4) { try db.put(k, k, sync: false) }
        var keys: [[UInt8]] = ((0..<70).map { [UInt8($0)] } + long).shuffled()
        keys += [[10], [61], [61], [], [5, 10], [10, 0], long[2], long[5]]
        let batched = try db.get(keys)
        #expect(batched.count == keys.count)
        for (key, value) in zip(keys, batched) { #expect(value == (try db.get(key)), "key \(key)") }
        #expect(try db.get([[3], [10], [22], [45], [61], [62]]) == [nil, [], nil, [45], [61], nil])
        #expect(try db.get(long.reversed()) == [nil, nil, long[3], long[2], long[1], long[0]])
        db.close()
        #expect(throws: RocksDBError.self) { try db.get([[5, 1]]) }
    }

    /// A table file written without a filter is read like any other: every key found,
    /// every other key missed. Its table properties hold no filter; the same keys written
    /// with one do, of about the bits a key the options give.
    @Test func aFileWrittenWithoutAFilterHoldsNoneAndReadsAlike() throws {
        func ingested(filtered: Bool) throws -> (Database, String) {
            let path = temporaryDirectory()
            let db = try Database(path: path + "/db")
            try FileManager.default.createDirectory(atPath: path + "/in", withIntermediateDirectories: true)
            let file = try db.sortedFileWriter(path: path + "/in/a.sst", filtered: filtered)
            for i in 0..<20_000 { try file.put([1] + withUnsafeBytes(of: UInt64(2 * i).bigEndian, Array.init), [UInt8(i % 251)]) }
            #expect(try file.finish())
            try db.ingest([file.file])
            return (db, try db.property("rocksdb.aggregated-table-properties") ?? "")
        }
        func filterBytes(_ properties: String) -> Int? {
            guard let range = properties.range(of: "filter block size=") else { return nil }
            return Int(properties[range.upperBound...].prefix { $0.isNumber })
        }
        let (plain, plainProperties) = try ingested(filtered: false)
        let (filtered, filteredProperties) = try ingested(filtered: true)
        #expect(filterBytes(plainProperties) == 0, "\(plainProperties)")
        #expect((filterBytes(filteredProperties) ?? 0) > 20_000 * 8 / 8, "\(filteredProperties)")
        for db in [plain, filtered] {
            for i in stride(from: 0, to: 40_000, by: 7) {
                let key = [1] + withUnsafeBytes(of: UInt64(i).bigEndian, Array.init)
                #expect(try db.get(key) == (i % 2 == 0 ? [UInt8(i / 2 % 251)] : nil), "key \(i)")
            }
            db.close()
        }
    }

    @Test func closedDatabaseThrowsInsteadOfCrashing() throws {
        let db = try Database(path: temporaryDirectory())
        db.close()
        #expect(throws: RocksDBError.self) { try db.get([1]) }
        #expect(throws: RocksDBError.self) { try db.scan(from: [0], to: [1]) { _, _ in true } }
        db.close()
    }

    @Test func secondOpenOfTheSameDirectoryIsRefusedWithRocksDBsReason() throws {
        let path = temporaryDirectory()
        let db = try Database(path: path)
        do {
            _ = try Database(path: path)
            Issue.record("a second open should fail on the LOCK file")
        } catch let e as RocksDBError {
            #expect(e.message.contains("lock"))
        }
        db.close()
        _ = try Database(path: path)
    }

    @Test func dataSurvivesReopenAndCheckpointsOpen() throws {
        let path = temporaryDirectory()
        do {
            let db = try Database(path: path)
            try db.put([42], Array("值".utf8))
            try db.checkpoint(to: path + "-copy")
            db.close()
        }
        #expect(try Database(path: path).get([42]) == Array("值".utf8))
        #expect(try Database(path: path + "-copy").get([42]) == Array("值".utf8))
    }

    /// A range deletion from a key as long as the insert hints' prefixes is refused before
    /// RocksDB sees it (RocksDB 7.8 could use a point key's hint for it and abort).
    @Test func aRangeDeletionFromALongKeyIsRefused() async {
        await #expect(processExitsWith: .failure) {
            WriteBatch().deleteRange(from: [0x10, 0], to: [0x11])
        }
    }

    /// The memtable starts each insert from where the last key with the same first two bytes
    /// went (RocksDB's insert hints, set at open): keys in order under one tag, keys in
    /// reverse and random keys under others, interleaved batch by batch, then a range
    /// deletion of a tag whose keys were inserted with hints (RocksDB 7.8 aborts if the
    /// deletion uses one of their hints): every key read back in key order, the deleted
    /// tag's gone.
    @Test func hintedMemtableInsertsKeepKeyOrder() throws {
        let path = temporaryDirectory()
        let db = try Database(path: path)
        #expect(try RecordedOptions.value("memtable_insert_with_hint_prefix_extractor", inStore: path) == "rocksdb.FixedPrefix.2")
        func be(_ n: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: n >> (56 - 8 * $0)) } }
        var expected = Set<[UInt8]>()
        var random = SystemRandomNumberGenerator()
        for batchNumber in 0..<20 {
            let batch = WriteBatch()
            for i in 0..<500 {
                let n = UInt64(batchNumber * 500 + i)
                let keys = [[0x01] + be(n), [0x13] + be(10_000 - n), [0x10] + be(random.next()), [0x10] + be(n),
                            [0x20] + be(n)]
                for k in keys { batch.put(k, k.suffix(2)); expected.insert(k) }
            }
            try db.write(batch, sync: false)
        }
        let clear = WriteBatch()
        clear.deleteRange(from: [0x20], to: [0x21])
        clear.put([0x20, 0, 0], [0, 0])
        try db.write(clear, sync: false)
        expected = expected.filter { $0[0] != 0x20 }
        expected.insert([0x20, 0, 0])
        var read: [[UInt8]] = []
        try db.scan(from: [0], to: [0xFF]) { k, v in
            read.append(k)
            #expect(v == Array(k.suffix(2)))
            return true
        }
        #expect(read == expected.sorted { $0.lexicographicallyPrecedes($1) })
    }
}

@Suite struct SortedFileWriterTests {
    /// Ingested keys shadow older values (also those behind a range deletion still in the
    /// memtable), keys out of order are refused, and an empty writer leaves no file.
    @Test func ingestedFilesShadowOlderValuesAtomically() throws {
        let path = temporaryDirectory()
        let db = try Database(path: path + "/db")
        try db.put([3, 1], [0], sync: false)
        try db.put([3, 9], [0], sync: false)
        let clear = WriteBatch()
        clear.deleteRange(from: [3], to: [4])
        try db.write(clear, sync: false)
        try FileManager.default.createDirectory(atPath: path + "/in", withIntermediateDirectories: true)
        let first = try db.sortedFileWriter(path: path + "/in/a.sst")
        for i: UInt8 in 0..<5 { try first.put([3, i], [i]) }
        #expect(throws: RocksDBError.self) { try first.put([3, 2], [9]) }   // not ascending
        #expect(try first.finish())
        let second = try db.sortedFileWriter(path: path + "/in/b.sst")
        try second.put([3, 7], [7])
        #expect(try second.finish())
        let empty = try db.sortedFileWriter(path: path + "/in/c.sst")
        #expect(try empty.finish() == false)
        #expect(try db.get([3, 1]) == nil)                                  // not visible before ingestion
        try db.ingest([first.file, second.file])
        #expect(!FileManager.default.fileExists(atPath: first.path))        // moved, not copied
        var got: [[UInt8]] = []
        try db.scan(from: [3], to: [4]) { k, v in got.append(k + v); return true }
        #expect(got == [[3, 0, 0], [3, 1, 1], [3, 2, 2], [3, 3, 3], [3, 4, 4], [3, 7, 7]])
        db.close()
        let reopened = try Database(path: path + "/db")
        #expect(try reopened.get([3, 7]) == [7])
        #expect(try reopened.get([3, 9]) == nil)
    }

    /// Opened for a bulk load, level-0 files pile up past the compaction trigger (four) and
    /// stay; switched back on, compaction merges them.
    @Test func perfCountersAreOffOnTheThreadsThatUseIt() throws {
        let db = try Database(path: temporaryDirectory() + "/db")
        defer { db.close() }
        let context = rocksdb_perfcontext_create()
        defer { rocksdb_perfcontext_destroy(context) }
        // RocksDB's default on a new thread: every key comparison counted.
        rocksdb_set_perf_level(2)
        rocksdb_perfcontext_reset(context)
        let batch = WriteBatch()
        for i in 0..<200 { batch.put([1, UInt8(i % 100), UInt8(i)], [0]) }
        try db.write(batch, sync: false)
        _ = try db.get([1, 50, 50])
        try db.scan(from: [1], to: [2]) { _, _ in true }
        let userKeyComparisons: Int32 = 0   // rocksdb_user_key_comparison_count
        #expect(rocksdb_perfcontext_metric(context, userKeyComparisons) == 0)
    }

    @Test func autoCompactionsOffAtOpenThenOnAgain() throws {
        var options = DatabaseOptions()
        options.autoCompactions = false
        let db = try Database(path: temporaryDirectory(), options: options)
        // One file more than the trigger: switched on, compactions have a merge to do.
        let files = UInt8(options.levelZeroCompactionTrigger + 1)
        for i: UInt8 in 0..<files {
            try db.put([i], [UInt8](repeating: i, count: 100), sync: false)
            try db.flush()
        }
        Thread.sleep(forTimeInterval: 0.3)
        #expect(try db.property("rocksdb.num-files-at-level0") == "\(files)")
        try db.setAutoCompactions(true)
        let deadline = Date().addingTimeInterval(20)
        while try db.property("rocksdb.num-files-at-level0") == "\(files)", Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        #expect(try db.property("rocksdb.num-files-at-level0") != "\(files)")
        for i: UInt8 in 0..<files { #expect(try db.get([i]) == [UInt8](repeating: i, count: 100)) }
    }

    /// A store as opened keeps level-0 files unmerged below its trigger (eight, not RocksDB's
    /// four: each merge of a serving store's flushes rewrites level 1) and merges them at it;
    /// level 1's target is what level 0 holds then (RocksDB records it in its OPTIONS file).
    @Test func levelZeroMergesAtTheStoresTrigger() throws {
        let path = temporaryDirectory()
        let db = try Database(path: path)
        defer { db.close() }
        let trigger = Int(DatabaseOptions().levelZeroCompactionTrigger)
        #expect(trigger == 8)
        #expect(try RecordedOptions.value("max_bytes_for_level_base", inStore: path) == "\(DatabaseOptions().writeBufferSize * trigger)")
        for round in 0..<trigger {
            for i: UInt8 in 0..<4 { try db.put([i], [UInt8(round)], sync: false) }
            try db.flush()
            try waitForBackgroundWork(db, seconds: 20)
            if round < trigger - 1 { #expect(try db.property("rocksdb.num-files-at-level0") == "\(round + 1)") }
        }
        let deadline = Date().addingTimeInterval(20)
        while try db.property("rocksdb.num-files-at-level0") != "0", Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        #expect(try db.property("rocksdb.num-files-at-level0") == "0")
        for i: UInt8 in 0..<4 { #expect(try db.get([i]) == [UInt8(trigger - 1)]) }
    }

    /// Raised for a bulk load, level 0 holds more files than RocksDB's defaults allow
    /// without a compaction or a write slowdown (20); set back, the compaction merges them.
    @Test func levelZeroTriggersMoveTogether() throws {
        let db = try Database(path: temporaryDirectory())
        defer { db.close() }
        try db.setLevel0Triggers(compaction: 32, slowdown: 40, stop: 48)
        for round: UInt8 in 0..<22 {
            for i: UInt8 in 0..<4 { try db.put([i], [round], sync: false) }
            try db.flush()
        }
        // A flush's thread may still count itself running a moment after flush() returns (a
        // loaded CI machine saw it once): wait for that, then no compaction may have begun.
        try waitForBackgroundWork(db, seconds: 5)
        #expect(try db.backgroundWorkPending() == false)
        #expect(try db.property("rocksdb.num-files-at-level0") == "22")
        #expect(try db.property("rocksdb.actual-delayed-write-rate") == "0")
        try db.setLevel0Triggers(compaction: 4)
        try waitForBackgroundWork(db, seconds: 20)
        #expect((Int(try db.property("rocksdb.num-files-at-level0") ?? "") ?? -1) < 4)
        for i: UInt8 in 0..<4 { #expect(try db.get([i]) == [21]) }
    }

    /// The compaction a bulk load ends with (level 0 into level 1) runs in as many parts as
    /// the store allows (``DatabaseOptions/maxSubcompactions``), one per thread, when its
    /// input holds that many parts of the least size.
    @Test func aCompactionFromLevelZeroRunsInParts() throws {
        let path = temporaryDirectory() + "/db"
        let db = try Database(path: path)
        defer { db.close() }
        try db.setLevel0Triggers(compaction: 32, slowdown: 40, stop: 48)
        // Parts of at least 256 KiB, set as a bulk load's end sets them.
        try db.setTargetFileSize(256 << 10)
        // RocksDB splits only a compaction that merges into files already in level 1.
        try db.put([0x6B], [1])
        try db.flush()
        try db.compactAll()
        #expect(try db.property("rocksdb.num-files-at-level1") == "1")
        // Eight files of keys spread over one range, as a bulk load's indexes are (a subject's
        // key lands anywhere), about 800 KB each: the compaction's input is twenty-five times
        // its parts' least size, more than the parts allowed. RocksDB splits at keys that bound blocks of its input
        // files, shortened, and counts each once: files of like keys in order (`k100001`,
        // `k100002`…) share them and would not split.
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> [UInt8] {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return [0x6B] + withUnsafeBytes(of: state.bigEndian) { Array($0) }
        }
        var sample: [[UInt8]] = []
        for _ in 0..<8 {
            let batch = WriteBatch()
            for i in 0..<2_000 {
                let key = next()
                if i % 97 == 0 { sample.append(key) }
                batch.put(key, [UInt8](repeating: 0x41, count: 400))
            }
            try db.write(batch, sync: false)
            try db.flush()
        }
        try db.setLevel0Triggers(compaction: 4)
        // The lowered trigger makes the compaction due at once (as in the test above).
        try waitForBackgroundWork(db, seconds: 30)
        let log = try String(contentsOfFile: path + "/LOG", encoding: .utf8)
        let parts = log.split(separator: "\n").filter { $0.contains("\"compaction_finished\"") }.compactMap { line in
            line.range(of: "\"num_subcompactions\": ").flatMap { Int(line[$0.upperBound...].prefix { $0.isNumber }) }
        }
        // The manual compaction above, then the one from level 0.
        #expect(parts == [1, Int(DatabaseOptions().maxSubcompactions)])
        #expect(try db.property("rocksdb.num-files-at-level0") == "0")
        for key in sample { #expect(try db.get(key) == [UInt8](repeating: 0x41, count: 400)) }
        #expect(try db.get([0x6B]) == [1])
    }

    /// Flushes (level 0) are written plain and compaction compresses below it; a table file
    /// for ingestion is compressed like the lower levels (overlapping nothing, it lands in
    /// the last one).
    @Test func levelZeroIsPlainAndLowerLevelsCompressed() throws {
        let path = temporaryDirectory()
        let db = try Database(path: path + "/db")
        func ratio(_ level: Int) throws -> Double { Double(try db.property("rocksdb.compression-ratio-at-level\(level)") ?? "") ?? -1 }
        let value = [UInt8](repeating: 0x41, count: 400)
        let batch = WriteBatch()
        for i in 0..<2_000 { batch.put(Array("k\(100_000 + i)".utf8), value) }
        try db.write(batch, sync: false)
        try db.flush()
        #expect(try db.property("rocksdb.num-files-at-level0") == "1")
        #expect(try ratio(0) < 1.1)
        try db.compactAll()
        #expect(try db.property("rocksdb.num-files-at-level0") == "0")
        #expect(try (1...6).contains { try ratio($0) > 5 })
        try FileManager.default.createDirectory(atPath: path + "/in", withIntermediateDirectories: true)
        let file = try db.sortedFileWriter(path: path + "/in/a.sst")
        for i in 0..<2_000 { try file.put(Array("z\(100_000 + i)".utf8), value) }
        try file.finish()
        try db.ingest([file.file])
        #expect(try db.property("rocksdb.num-files-at-level6") == "1")
        #expect(try ratio(6) > 5)
        #expect(try db.get(Array("z100007".utf8)) == value)
        // Written plain over existing keys: level 0, uncompressed, shadowing the old values.
        let plain = try db.sortedFileWriter(path: path + "/in/b.sst", compressed: false)
        for i in 0..<2_000 { try plain.put(Array("k\(100_000 + i)".utf8), value + [1]) }
        try plain.finish()
        try db.ingest([plain.file])
        #expect(try db.property("rocksdb.num-files-at-level0") == "1")
        #expect(try ratio(0) < 1.1)
        #expect(try db.get(Array("k100007".utf8)) == value + [1])
    }

    /// Each open starts a new info log; a store opened by one CLI command after another keeps
    /// only the last few.
    @Test func aStoreOpenedAgainAndAgainKeepsAFewOldInfoLogs() throws {
        let path = temporaryDirectory() + "/db"
        let kept = DatabaseOptions().infoLogsKept
        for _ in 0..<(kept + 5) { try Database(path: path).close() }
        let old = try FileManager.default.contentsOfDirectory(atPath: path).filter { $0.hasPrefix("LOG.old") }
        #expect(old.count >= kept - 1 && old.count <= kept)
    }

    /// Data blocks are the configured size, not RocksDB's 4 KiB default.
    @Test func tableFilesHoldBlocksOfTheConfiguredSize() throws {
        func dataBlocks(blockSize: Int) throws -> Int {
            var options = DatabaseOptions()
            options.blockSize = blockSize
            let db = try Database(path: temporaryDirectory() + "/\(blockSize)", options: options)
            let value = [UInt8](repeating: 0x41, count: 400)
            let batch = WriteBatch()
            for i in 0..<2_000 { batch.put(Array("k\(100_000 + i)".utf8), value) }
            try db.write(batch, sync: false)
            try db.flush()
            let properties = try db.property("rocksdb.aggregated-table-properties") ?? ""
            let field = properties.split(separator: ";").first { $0.contains("# data blocks") }
            return Int(field?.split(separator: "=").last?.trimmingCharacters(in: .whitespaces) ?? "") ?? -1
        }
        // About 830 KB of keys and values.
        #expect((40...60).contains(try dataBlocks(blockSize: DatabaseOptions().blockSize)))
        #expect((180...230).contains(try dataBlocks(blockSize: 4 << 10)))
    }
}

@Suite struct OrderedWriteBatchTests {
    /// The sort by sixteen-byte words orders keys as RocksDB's comparator does (memcmp,
    /// shorter first on a common prefix) and keeps the given order among equal keys: keys
    /// that share 0 to 40 bytes, end in zeros, or repeat, of every length up to 60.
    @Test func keysSortInBytewiseOrderSixteenBytesAtATime() {
        var seed: UInt64 = 0x5EED
        func next(_ n: Int) -> Int {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return Int((seed >> 33) % UInt64(n))
        }
        let prefix = (0..<48).map { _ in UInt8(next(3)) }
        var keys: [[UInt8]] = []
        for _ in 0..<4_000 {
            var k = Array(prefix.prefix(next(41)))
            for _ in 0..<next(20) { k.append(UInt8([0, 1, 255][next(3)])) }
            if next(8) == 0 { k += [UInt8](repeating: 0, count: next(20)) }
            keys.append(k)
            if next(10) == 0 { keys.append(k) }
        }
        keys.append([])
        let expected = keys.indices.sorted { a, b in
            keys[a] != keys[b] ? keys[a].lexicographicallyPrecedes(keys[b]) : a < b
        }
        #expect(bytewiseOrder(keys) == expected)
    }

    /// Sorted for the memtable, or written into a table file and ingested, yet meaning
    /// exactly what the calls meant: the last operation on a key wins, however the keys
    /// compare in their first sixteen bytes, and a delete hides what the store held.
    @Test(arguments: [false, true]) func keyOrderKeepsTheMeaningOfTheCalls(asTableFile: Bool) throws {
        let path = temporaryDirectory()
        let db = try Database(path: path + "/db")
        try db.put([5], [0])
        try db.put([6], [0])
        let long = [UInt8](repeating: 3, count: 20)
        let ordered = OrderedWriteBatch()
        ordered.put(long + [2], [1])
        ordered.put([9, 9], [1])
        ordered.delete([9, 9])              // put then delete: gone
        ordered.delete([5])
        ordered.put([5], [2])               // delete then put: present
        ordered.put(long + [1], [2])        // same 16-byte prefix, smaller key
        ordered.put(long + [2], [3])        // overwritten later in the batch
        ordered.put([1], [4])
        ordered.delete([6])                 // held by the store: gone
        #expect(ordered.count == 9)
        if asTableFile {
            try FileManager.default.createDirectory(atPath: path + "/in", withIntermediateDirectories: true)
            let file = try db.sortedFileWriter(path: path + "/in/a.sst", compressed: false)
            try ordered.write(to: file)
            #expect(file.count == 6)        // each key once
            #expect(try file.finish())
            try db.ingest([file.file])
        } else {
            try db.write(ordered.build(), sync: true)
        }
        #expect(try db.get([9, 9]) == nil)
        #expect(try db.get([5]) == [2])
        #expect(try db.get([6]) == nil)
        #expect(try db.get(long + [1]) == [2])
        #expect(try db.get(long + [2]) == [3])
        #expect(try db.get([1]) == [4])
        var keys: [[UInt8]] = []
        try db.scan(from: [], to: [0xFF]) { k, _ in keys.append(k); return true }
        #expect(keys == [[1], long + [1], long + [2], [5]])
    }

    /// A batch encoded in Swift is byte for byte what RocksDB's own calls build for the same
    /// operations in key order: empty keys and values, lengths that take one to three bytes
    /// of varint, puts and deletes.
    @Test func encodedBatchIsWhatRocksDBsOwnCallsBuild() throws {
        let sizes = [0, 1, 127, 128, 300, 16_383, 16_384, 70_000]
        let ordered = OrderedWriteBatch()
        var operations: [(key: [UInt8], value: [UInt8]?)] = []
        for (i, n) in sizes.enumerated() {
            let key = [UInt8(i)] + [UInt8](repeating: 7, count: sizes[(i + 3) % sizes.count] % 1_000)
            let value = [UInt8](repeating: UInt8(i), count: n)
            ordered.put(key, value)
            operations.append((key, value))
            if i % 3 == 0 {
                ordered.delete(key + [1])
                operations.append((key + [1], nil))
            }
        }
        let own = rocksdb_writebatch_create()!
        defer { rocksdb_writebatch_destroy(own) }
        for i in bytewiseOrder(operations.map(\.key)) {
            let (key, value) = (operations[i].key.map(CChar.init(bitPattern:)), operations[i].value?.map(CChar.init(bitPattern:)))
            if let value { rocksdb_writebatch_put(own, key, key.count, value, value.count) } else { rocksdb_writebatch_delete(own, key, key.count) }
        }
        var size = 0
        let data = rocksdb_writebatch_data(own, &size)!
        let ownBytes = data.withMemoryRebound(to: UInt8.self, capacity: size) { Array(UnsafeBufferPointer(start: $0, count: size)) }
        let built = ordered.build()
        #expect(built.count == operations.count)
        #expect(built.encoded == ownBytes)

        let db = try Database(path: temporaryDirectory())
        defer { db.close() }
        try db.write(built, sync: true)
        for (key, value) in operations { #expect(try db.get(key) == value) }
    }

    /// Split by the keys' first byte, each key goes into the file of its range, once; files
    /// without keys stay unfinished. Ingested together, a file that overlaps no stored key
    /// lands below level 0 and one that does lands in level 0, each with its own range.
    @Test func aSplitWriteGivesEachRangeItsOwnFile() throws {
        let path = temporaryDirectory()
        let db = try Database(path: path + "/db")
        defer { db.close() }
        try db.put([2, 7], [0])                       // stored: the second range overlaps it
        try db.flush()
        let ordered = OrderedWriteBatch()
        for key: [UInt8] in [[9, 1], [2, 9], [1, 5], [3], [2, 1], [1, 5], [0x10, 1], [1, 2], [9, 0]] { ordered.put(key, key) }
        ordered.delete([2, 7])
        try FileManager.default.createDirectory(atPath: path + "/in", withIntermediateDirectories: true)
        let files = try (0..<4).map { try db.sortedFileWriter(path: path + "/in/\($0).sst", compressed: false) }
        try ordered.write(to: files, splitAt: [2, 9, 0x10])
        #expect(files.map(\.count) == [2, 4, 2, 1])    // [1, 5] once; the delete counts
        let written = try files.filter { try $0.finish() }.map(\.file)
        #expect(written.count == 4)
        try db.ingest(written)
        let live = try db.liveTableFiles().filter { $0.entries > 0 && $0.smallestKey != [2, 7] }
        #expect(live.count == 4)
        for file in live {
            switch file.smallestKey.first {
            case 1: #expect(file.largestKey == [1, 5] && file.level > 0)
            case 2: #expect(file.largestKey == [3] && file.level == 0)     // over the stored key
            case 9: #expect(file.largestKey == [9, 1] && file.level > 0)
            default: #expect(file.smallestKey == [0x10, 1] && file.largestKey == [0x10, 1] && file.level > 0)
            }
        }
        #expect(try db.get([2, 7]) == nil)
        #expect(try db.get([1, 5]) == [1, 5])
        #expect(try db.get([0x10, 1]) == [0x10, 1])
        let empty = try db.sortedFileWriter(path: path + "/in/e.sst")
        let other = try db.sortedFileWriter(path: path + "/in/f.sst")
        let one = OrderedWriteBatch()
        one.put([5], [5])
        try one.write(to: [empty, other], splitAt: [4])
        #expect(try empty.finish() == false)
        #expect(try other.finish())
    }
}

/// Groups of ``DatabaseOptions/separatedPrefixes`` (tag, kind, name, 0, members): a seek to a
/// group skips the files whose filter rules it out and still finds every member; scans in
/// total order see every key, also when they start on a member.
@Suite struct SeparatedPrefixTests {
    @Test func groupsAreFoundThroughTheirFiltersAndScansStayWhole() throws {
        var options = DatabaseOptions()
        options.separatedPrefixes = 0x17
        options.autoCompactions = false          // one level-0 file per flush, kept apart
        let db = try Database(path: temporaryDirectory(), options: options)
        defer { db.close() }
        func group(_ name: String) -> [UInt8] { [0x17, 1] + Array(name.utf8) + [0] }
        let names = (0..<12).map { "name\($0)" }
        var all: [[UInt8]] = []
        for (f, name) in names.enumerated() {
            for m in 0..<3 {
                let key = group(name) + Array("member\(m)".utf8)
                try db.put(key, [UInt8(f)], sync: false)
                all.append(key)
            }
            try db.put([0x10, UInt8(f)], [1], sync: false)   // a key outside the groups in every file
            try db.flush()
        }
        #expect(try db.property("rocksdb.num-files-at-level0") == "12")
        var found: [Int: [[UInt8]]] = [:]
        try db.keys(under: [group("name3"), group("absent"), group("name11"), group("name1")], limit: 10) { i, key in
            found[i, default: []].append(key)
        }
        #expect(found[0] == (0..<3).map { group("name3") + Array("member\($0)".utf8) })
        #expect(found[1] == nil)
        #expect(found[2]?.count == 3 && found[3]?.count == 3)
        // A scan that starts on a member (in a group's domain) runs on through the others.
        var scanned: [[UInt8]] = []
        let start = group("name3") + Array("member1".utf8)
        try db.scan(from: start, to: [0x18]) { key, _ in scanned.append(key); return true }
        #expect(scanned == all.sorted { $0.lexicographicallyPrecedes($1) }.filter { !$0.lexicographicallyPrecedes(start) })
    }
}
