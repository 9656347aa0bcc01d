import Foundation
import CRocksDB
import Testing
@testable import RocksDB

/// Keys of appended tags kept in column families of their own, invisibly to the callers.
@Suite struct KeyFamiliesTests {
    static let families = KeyFamilies(appendedTags: [0x13, 0x01])

    private func open(_ path: String, _ families: KeyFamilies = Self.families, writeBuffer: Int? = nil) throws -> Database {
        var options = DatabaseOptions()
        options.keyFamilies = families
        if let writeBuffer { options.writeBufferSize = writeBuffer; options.appendedWriteBufferSize = writeBuffer }
        return try Database(path: path, options: options)
    }

    /// Keys of every kind, as the store's tags spread them: two appended tags and the rest.
    private static let keys: [[UInt8]] = [[0, 1], [0x01, 0, 1], [0x01, 0, 2], [0x02, 7], [0x10, 1], [0x13, 0, 1], [0x13, 0, 2], [0x20]]

    @Test func tagsAreCutIntoPartsByFamily() {
        let f = Self.families
        #expect(f.appendedTags == [0x01, 0x13])
        #expect(f.family(of: [0x01, 5]) == 1 && f.family(of: [0x13]) == 2 && f.family(of: [0x12, 0xFF]) == 0 && f.family(of: []) == 0)
        #expect(f.name(0) == "default" && f.name(1) == "appended-01" && f.name(2) == "appended-13")
        let parts = f.parts(from: [0x00, 9], to: [0x20]).map { "\($0.family):\($0.lower)-\($0.upper.map { "\($0)" } ?? "end")" }
        #expect(parts == ["0:[0, 9]-[1]", "1:[1]-[2]", "0:[2]-[19]", "2:[19]-[20]", "0:[20]-[32]"])
        #expect(f.parts(from: [0x01, 3], to: [0x01, 9]).map(\.family) == [1])
        #expect(f.parts(from: [0x14], to: nil).map(\.family) == [0])
        #expect(KeyFamilies.single.parts(from: [], to: nil).count == 1)
    }

    /// Every read and write finds a key in its family: point reads, batched reads of mixed
    /// families in any order, scans across families in both directions, range deletions
    /// that reach into several; and the table files of an appended family hold its keys only.
    @Test func everyOperationFindsAKeyInItsFamily() throws {
        let db = try open(temporaryDirectory())
        #expect(db.families == Self.families)
        let routed = WriteBatch()                       // built without families: routed when written
        let direct = WriteBatch(families: db.families)  // built for them: written as it is
        for (n, k) in Self.keys.enumerated() { (n.isMultiple(of: 2) ? routed : direct).put(k, [UInt8(n)]) }
        try db.write(routed, sync: false)
        try db.write(direct, sync: true)
        for (n, k) in Self.keys.enumerated() { #expect(try db.get(k) == [UInt8(n)]) }
        let shuffled = Self.keys.reversed() + [[0x01, 0, 9]]
        #expect(try db.get(Array(shuffled)) == Self.keys.indices.reversed().map { [UInt8($0)] } + [nil])
        var seen: [[UInt8]] = []
        try db.scan(from: [], to: [0xFF]) { k, _ in seen.append(k); return true }
        #expect(seen == Self.keys)
        seen = []
        try db.scan(from: [0x01, 0, 2], to: [0x14], reverse: true) { k, _ in seen.append(k); return seen.count < 4 }
        #expect(seen == [[0x13, 0, 2], [0x13, 0, 1], [0x10, 1], [0x02, 7]])
        try db.flush()
        let files = try db.liveTableFiles()
        #expect(Set(files.map(\.family)) == ["default", "appended-01", "appended-13"])
        for file in files {
            let tags = Set([file.smallestKey.first!, file.largestKey.first!])
            switch file.family {
            case "appended-01": #expect(tags == [0x01])
            case "appended-13": #expect(tags == [0x13])
            default: #expect(!tags.contains(0x01) && !tags.contains(0x13))
            }
        }
        // A range deletion reaches every family its range crosses, however the batch was made.
        for clear in [WriteBatch(), WriteBatch(families: db.families)] {
            clear.deleteRange(from: [0x10], to: [0x14])
            try db.write(clear, sync: true)
        }
        seen = []
        try db.scan(from: [], to: [0xFF]) { k, _ in seen.append(k); return true }
        #expect(seen == [[0, 1], [0x01, 0, 1], [0x01, 0, 2], [0x02, 7], [0x20]])
        let wide = WriteBatch()
        wide.deleteRange(from: [], to: [0x02])
        try db.write(wide, sync: true)
        #expect(try db.get([0x01, 0, 1]) == nil && db.get([0, 1]) == nil && db.get([0x02, 7]) == [3])
    }

    /// The batch's encoding is RocksDB's own: the same bytes as RocksDB's C API builds for the
    /// same puts, deletions and range deletions in the same families.
    @Test func batchesAreEncodedAsRocksDBEncodesThem() throws {
        let db = try open(temporaryDirectory())
        let ours = WriteBatch(families: db.families)
        let theirs = rocksdb_writebatch_create()!
        defer { rocksdb_writebatch_destroy(theirs) }
        let handles = db.familyHandles
        let value = [UInt8](repeating: 7, count: 300)   // a length of two varint bytes
        for k in Self.keys {
            ours.put(k, value)
            k.withUnsafeBufferPointer { kb in value.withUnsafeBufferPointer { vb in
                kb.withMemoryRebound(to: CChar.self) { kc in vb.withMemoryRebound(to: CChar.self) { vc in
                    rocksdb_writebatch_put_cf(theirs, handles[db.families.family(of: k)], kc.baseAddress, kc.count, vc.baseAddress, vc.count)
                } }
            } }
        }
        for k in [[0x01, 0, 1], [0x02, 7]] as [[UInt8]] {
            ours.delete(k)
            k.withUnsafeBufferPointer { kb in kb.withMemoryRebound(to: CChar.self) { kc in
                rocksdb_writebatch_delete_cf(theirs, handles[db.families.family(of: k)], kc.baseAddress, kc.count)
            } }
        }
        ours.deleteRange(from: [0x10], to: [0x14])
        for family in [0, 2] {
            let (lower, upper): ([CChar], [CChar]) = ([0x10], [0x14])
            rocksdb_writebatch_delete_range_cf(theirs, handles[family], lower, 1, upper, 1)
        }
        var size = 0
        let data = rocksdb_writebatch_data(theirs, &size)!
        let expected = data.withMemoryRebound(to: UInt8.self, capacity: size) { Array(UnsafeBufferPointer(start: $0, count: size)) }
        #expect(ours.encoded == expected)
        #expect(ours.count == Int(rocksdb_writebatch_count(theirs)))
    }

    /// A store written with one family, opened with appended families: its keys of those
    /// tags are moved into them, readable as before, and the default family keeps none.
    @Test func aStoreWrittenInOneFamilyHasItsKeysMoved() throws {
        let path = temporaryDirectory()
        var db = try open(path, .single)
        let batch = WriteBatch()
        // More than one of the move's batches (4096 keys) of the log's tag.
        for i in 0..<5_000 { batch.put([0x01] + withUnsafeBytes(of: UInt64(i).bigEndian, Array.init), [UInt8(i % 251)]) }
        for k in Self.keys where k.first != 0x01 { batch.put(k, [9]) }
        try db.write(batch, sync: true)
        try db.flush()
        db.close()
        db = try open(path)
        for i in [0, 4_095, 4_096, 4_999] {
            #expect(try db.get([0x01] + withUnsafeBytes(of: UInt64(i).bigEndian, Array.init)) == [UInt8(i % 251)])
        }
        var count = 0
        try db.scanKeys(from: [0x01], to: [0x02]) { _ in count += 1; return true }
        #expect(count == 5_000)
        #expect(try db.get([0x13, 0, 2]) == [9] && db.get([0x20]) == [9])
        try db.flush()
        let files = try db.liveTableFiles()
        #expect(files.contains { $0.family == "appended-01" } && files.contains { $0.family == "appended-13" })
        db.close()
        // Opened again: nothing left to move, nothing lost.
        db = try open(path)
        #expect(try db.get([0x01] + withUnsafeBytes(of: UInt64(7).bigEndian, Array.init)) == [7])
        db.close()
        // Read as one family, the default family holds no key of the appended tags any more.
        let plain = try open(path, .single)
        #expect(try plain.get([0x20]) == [9] && plain.get([0x13, 0, 2]) == nil)
        var left = 0
        try plain.scanKeys(from: [0x01], to: [0x02]) { _ in left += 1; return true }
        #expect(left == 0)
    }

    /// A tag made appended after a store was written with families (an older layout) gets
    /// its family on the store's next open, its keys moved there; a secondary instance under
    /// a primary that still has the older layout reads them where that primary keeps them.
    @Test func aTagMadeAppendedLaterIsMovedAndReadUnderAnOlderPrimary() throws {
        let path = temporaryDirectory()
        let older = KeyFamilies(appendedTags: [0x01, 0x13]), newer = KeyFamilies(appendedTags: [0x01, 0x13, 0x22])
        func key(_ i: Int) -> [UInt8] { [0x22] + withUnsafeBytes(of: UInt64(i).bigEndian, Array.init) }
        var db = try open(path, older)
        let batch = WriteBatch(families: db.families)
        for k in Self.keys { batch.put(k, [9]) }
        for i in 0..<300 { batch.put(key(i), [UInt8(i % 251)]) }
        try db.write(batch, sync: true)

        var options = DatabaseOptions()
        options.keyFamilies = newer
        options.secondaryPath = temporaryDirectory()
        let reader = try Database(path: path, options: options)
        #expect(reader.families == older)
        #expect(try reader.get(key(7)) == [7] && reader.get([0x13, 0, 2]) == [9] && reader.get([0x10, 1]) == [9])
        var read = 0
        try reader.scanKeys(from: [0x22], to: [0x23]) { _ in read += 1; return true }
        #expect(read == 300)
        reader.close()
        db.close()

        db = try open(path, newer)
        #expect(db.families == newer)
        var moved = 0
        try db.scanKeys(from: [0x22], to: [0x23]) { _ in moved += 1; return true }
        #expect(moved == 300)
        #expect(try db.get(key(299)) == [UInt8(299 % 251)] && db.get([0x01, 0, 2]) == [9] && db.get([0x20]) == [9])
        try db.flush()
        #expect(try db.liveTableFiles().contains { $0.family == "appended-22" })
        db.close()
        // Read through the older layout (the default family only, for that tag): nothing left.
        let plain = try open(path, older)
        #expect(try plain.get(key(7)) == nil && plain.get([0x13, 0, 2]) == [9])
    }

    /// A table file holds the keys of one family, and files of several are each ingested
    /// into their own.
    @Test func tableFilesAreIngestedIntoTheirFamilies() throws {
        let path = temporaryDirectory()
        let db = try open(path + "/db")
        try FileManager.default.createDirectory(atPath: path + "/in", withIntermediateDirectories: true)
        let mixed = try db.sortedFileWriter(path: path + "/in/mixed.sst")
        try mixed.put([0x01, 1], [1])
        #expect(throws: RocksDBError.self) { try mixed.put([0x02, 1], [2]) }
        let log = try db.sortedFileWriter(path: path + "/in/log.sst")
        try log.put([0x01, 1], [1])
        let rest = try db.sortedFileWriter(path: path + "/in/rest.sst")
        try rest.put([0x02, 1], [2])
        try rest.put([0x10, 1], [3])
        #expect(try log.finish() && rest.finish())
        try db.ingest([log.file, rest.file])
        #expect(try db.get([[0x10, 1], [0x01, 1], [0x02, 1]]) == [[3], [1], [2]])
        let files = try db.liveTableFiles()
        #expect(files.first { $0.smallestKey == [0x01, 1] }?.family == "appended-01")
        #expect(files.first { $0.smallestKey == [0x02, 1] }?.family == "default")
    }

    /// An appended family's flushes overlap no other file of it: RocksDB moves them down
    /// the levels without rewriting them. Its keys are written in order, as a log's are, in
    /// flushes of 1 MiB; after a compaction of what level 0 holds, every file is where a
    /// move put it (level 1 and below) and no key was written twice.
    @Test func anAppendedFamilysFlushesMoveDownWhole() throws {
        let db = try open(temporaryDirectory(), writeBuffer: 1 << 20)
        let value = [UInt8](repeating: 5, count: 1000)
        var flushed: Set<String> = []
        for flush in 0..<6 {
            let batch = WriteBatch(families: db.families)
            for i in 0..<500 { batch.put([0x01] + withUnsafeBytes(of: UInt64(flush * 500 + i).bigEndian, Array.init), value) }
            try db.write(batch, sync: false)
            try db.flush()
            flushed.formUnion(try db.liveTableFiles().filter { $0.family == "appended-01" }.map(\.name))
        }
        try db.compactAll()
        let after = try db.liveTableFiles().filter { $0.family == "appended-01" }
        #expect(after.count == 6)
        #expect(Set(after.map(\.name)) == flushed)   // the same files: moved, not rewritten
        #expect(after.allSatisfy { $0.level > 0 })
    }
}
