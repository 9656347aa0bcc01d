import Foundation
import Testing
@testable import YidangStore

@Suite struct ImporterTests {
    /// Lines reach the writer in file order with their file and line numbers, blank lines
    /// skipped and a last line without a newline kept; the first chunks are an eighth of the
    /// chunk size and double up to it (the writer starts sooner), and a file's last chunk
    /// may be short.
    @Test func chunksKeepFileOrderAndRampUpToTheChunkSize() async throws {
        let dir = tempDir()
        let hub = try Hub(directory: dir + "/hub")
        defer { hub.close() }
        var first = ""
        for i in 1...100 { first += i % 10 == 0 ? "  \n" : "a\(i)\n" }   // every tenth line blank
        try first.write(toFile: dir + "/a.ndjson", atomically: true, encoding: .utf8)
        try "b1\n\nb3".write(toFile: dir + "/b.ndjson", atomically: true, encoding: .utf8)
        var importer = Importer(hub: hub)
        importer.chunkSize = 16
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
}
