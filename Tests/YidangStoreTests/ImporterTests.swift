import Foundation
import Identifiers
import Testing
import TestSupport
@testable import YidangStore

@Suite struct ImporterTests {
    /// Lines reach the writer in file order with their file and line numbers, blank lines
    /// skipped and a last line without a newline kept; the first chunks are an eighth of the
    /// chunk size and double up to it (the writer starts sooner), and a file's last chunk
    /// may be short. Read in blocks of 4 MiB, or of 5 bytes, which lines are longer than.
    @Test(arguments: [4 << 20, 5]) func chunksKeepFileOrderAndRampUpToTheChunkSize(readSize: Int) async throws {
        let dir = tempDir() + "/\(readSize)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let hub = try Hub(directory: dir + "/hub")
        defer { hub.close() }
        var first = ""
        for i in 1...100 { first += i % 10 == 0 ? "  \n" : "a\(i)\n" }   // every tenth line blank
        try first.write(toFile: dir + "/a.ndjson", atomically: true, encoding: .utf8)
        try "b1\n\nb3".write(toFile: dir + "/b.ndjson", atomically: true, encoding: .utf8)
        var importer = Importer(hub: hub)
        importer.chunkSize = 16
        importer.readSize = readSize
        var sizes: [Int] = []
        var lines: [String] = []
        var bytes: UInt64 = 0
        try await importer.forEachChunk(of: [dir + "/a.ndjson", dir + "/b.ndjson"], read: { bytes += $0 }) { chunk in
            sizes.append(chunk.count)
            for l in chunk { lines.append("\((l.file as NSString).lastPathComponent):\(l.line):\(String(decoding: l.text, as: UTF8.self))") }
        }
        #expect(sizes == [2, 4, 8, 16, 16, 16, 16, 12, 2])
        let expected = (1...100).filter { $0 % 10 != 0 }.map { "a.ndjson:\($0):a\($0)" } + ["b.ndjson:1:b1", "b.ndjson:3:b3"]
        #expect(lines == expected)
        #expect(bytes == UInt64(first.utf8.count + 6))
    }

    /// A file that cannot be read is an error naming it and the system's reason, not a
    /// crash (FileHandle's reads trap on a read error); a missing one is "not found".
    @Test func anUnreadableFileIsAnErrorThatNamesIt() async throws {
        let dir = tempDir()
        let hub = try Hub(directory: dir + "/hub")
        defer { hub.close() }
        let importer = Importer(hub: hub)
        do {
            try await importer.forEachChunk(of: [dir], read: { _ in }) { _ in Issue.record("a directory gave lines") }
            Issue.record("reading a directory did not throw")
        } catch let error as StoreError {
            #expect("\(error)" == "cannot read \(dir): Is a directory")
        }
        do {
            try await importer.forEachChunk(of: [dir + "/missing.ndjson"], read: { _ in }) { _ in }
            Issue.record("reading a missing file did not throw")
        } catch let error as StoreError {
            #expect("\(error)" == "file \(dir)/missing.ndjson not found")
        }
    }

    /// The closing merge's parts: 1 MiB up to 48 MiB of level 0, then level 0 over 48 (a
    /// 10⁶-event load's parts grow rather than its files shrink), never above 64 MiB.
    @Test func theClosingMergeIsCutByLevelZerosSize() {
        #expect(EventStore.closingPartSize(levelZeroBytes: 0) == 1 << 20)
        #expect(EventStore.closingPartSize(levelZeroBytes: 48_359_161) == 1 << 20)
        #expect(EventStore.closingPartSize(levelZeroBytes: 240 << 20) == 5 << 20)
        #expect(EventStore.closingPartSize(levelZeroBytes: 3_072 << 20) == 64 << 20)
        #expect(EventStore.closingPartSize(levelZeroBytes: 40 << 30) == 64 << 20)
    }

    /// A bulk load leaves level 0 many files deep (a file per group); the import returns only
    /// once RocksDB has merged them, so the next command neither stalls its writes nor merges
    /// every level-0 file on each read, and no compaction is abandoned half done at exit. The
    /// log's entries skip compaction altogether.
    @Test func anImportReturnsWithItsCompactionsDone() async throws {
        let dir = tempDir()
        let hub = try Hub(directory: dir + "/hub")
        defer { hub.close() }
        var text = ""
        for i in 0..<3_000 {
            let id = CitizenID.make(region: "110105", birth: "\(1980 + i / 1000)0101", sequence: i % 1000)
            text += #"{"specversion":"1.0","id":"g\#(i)","source":"gongan","type":"person.updated","subject":"person/\#(id)","time":"2026-11-20T08:00:00+08:00","data":{"name":"张\#(i)","phone":"138\#(String(format: "%08d", i))"}}"# + "\n"
        }
        try text.write(toFile: dir + "/load.ndjson", atomically: true, encoding: .utf8)
        var importer = Importer(hub: hub)
        importer.chunkSize = 96   // a group per chunk or two: dozens of level-0 files
        let summary = try await importer.importFiles([dir + "/load.ndjson"], onReject: { r in Issue.record("\(r.rejection)") })
        #expect(summary.accepted == 3_000)
        #expect(try hub.database.backgroundWorkPending() == false)
        let level0 = Int(try hub.database.property("rocksdb.num-files-at-level0") ?? "") ?? -1
        #expect(level0 >= 0 && level0 < 4, "level 0 holds \(level0) files")
        // The merge it waited for was cut in parts of 1 MiB, the least for a level 0 this
        // small (see `EventStore.closingPartSize`), as the options RocksDB last recorded say.
        #expect(try RecordedOptions.value("target_file_size_base", inStore: hub.database.path) == "\(1 << 20)")
        // Each group's log entries and its change records went into files of their own,
        // which overlapped nothing and lie in the last level, never rewritten: compaction
        // merged only the indexes, blocking keys and golden records.
        let files = try hub.database.liveTableFiles()
        for prefix in [Keys.log, Keys.change] {
            let own = files.filter { $0.smallestKey.first == prefix }
            #expect(own.count >= 10, "\(own.count) files start with \(prefix)")
            for file in own {
                #expect(file.level == 6 && file.largestKey.first == prefix, "\(file.name) at level \(file.level)")
            }
            let entries = own.reduce(0) { $0 + $1.entries }
            #expect(entries == 3_000, "\(entries) entries of \(prefix) in their own files")
        }
    }

    /// An import read from a pipe (`yidang import <(zcat snapshot.ndjson.gz)`) gets every
    /// line: the count of its subjects (``InputCensus``) reads regular files only, since a
    /// pipe hands each byte to one reader. Three passes over the same people, so that the
    /// count would size the cache if it read the pipe.
    @Test func anImportFromAPipeGetsEveryLine() async throws {
        let dir = tempDir()
        let hub = try Hub(directory: dir + "/hub")
        defer { hub.close() }
        let fifo = dir + "/load.fifo"
        #expect(mkfifo(fifo, 0o600) == 0)
        var text = ""
        for pass in 0..<3 {
            for i in 0..<2_000 {
                let id = CitizenID.make(region: "110105", birth: "19800101", sequence: i)
                text += #"{"specversion":"1.0","id":"p\#(pass)-\#(i)","source":"gongan","type":"person.updated","subject":"person/\#(id)","time":"2026-11-2\#(pass)T08:00:00+08:00","data":{"name":"张\#(i)"}}"# + "\n"
            }
        }
        let bytes = Array(text.utf8)
        let writer = Thread {
            let fd = open(fifo, O_WRONLY)
            var at = 0
            while fd >= 0 && at < bytes.count {
                let n = bytes[at...].withUnsafeBytes { write(fd, $0.baseAddress!, min($0.count, 4096)) }
                if n <= 0 { break }
                at += n
            }
            close(fd)
        }
        writer.start()
        let summary = try await Importer(hub: hub).importFiles([fifo], onReject: { r in Issue.record("\(r.rejection)") })
        #expect(summary.lines == 6_000)
        #expect(summary.accepted == 6_000)
    }
}
