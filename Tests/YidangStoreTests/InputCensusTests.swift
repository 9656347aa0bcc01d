import Foundation
import RocksDB
import Testing
import YidangModel
@testable import YidangStore

@Suite struct InputCensusTests {
    /// Waits for the census's count (it runs on a thread of its own).
    private func count(of census: InputCensus) async throws -> InputCensus.Count? {
        for _ in 0..<500 {
            if let c = census.result() { return c }
            try await Task.sleep(nanoseconds: 10_000_000)
        }
        return nil
    }

    /// The census counts each line's `"subject"` member (not a value that reads "subject",
    /// whatever the spacing around the colon) across files, in blocks of any size, a last line
    /// without a line break included; it counts the runs of lines naming one subject, and says
    /// the subjects come back when runs are at least twice the subjects.
    @Test(arguments: [4 << 20, 7]) func itCountsSubjectsAndTheirRuns(readSize: Int) async throws {
        let dir = tempDir()
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        func line(_ subject: String) -> String { #"{"source":"zhujian","type":"subject","data":{"x":"j"},"subject" : "\#(subject)","id":"1"}"# }
        // Three passes over four subjects, then a line with none; the second file's last line
        // has no line break.
        let passes = (0..<3).flatMap { _ in ["person/A", "person/B", "person/C", "person/D"] }
        try (passes.map(line).joined(separator: "\n") + "\n{\"id\":\"no subject\"}\n").write(toFile: dir + "/a.ndjson", atomically: true, encoding: .utf8)
        try ([line("person/D"), line("person/E"), line("person/E")].joined(separator: "\n")).write(toFile: dir + "/b.ndjson", atomically: true, encoding: .utf8)
        let census = InputCensus(files: [dir + "/a.ndjson", dir + "/b.ndjson"], upTo: 100, readSize: readSize)
        let c = try #require(try await count(of: census))
        #expect(c == InputCensus.Count(subjects: 5, runs: 13))   // D then D across the files is one run
        #expect(c.subjectsComeBack)
        // Each subject's lines together: as many runs as subjects.
        try (["person/A", "person/A", "person/B", "person/C", "person/C"].map(line).joined(separator: "\n")).write(toFile: dir + "/c.ndjson", atomically: true, encoding: .utf8)
        let grouped = try #require(try await count(of: InputCensus(files: [dir + "/c.ndjson"], upTo: 100, readSize: readSize)))
        #expect(grouped == InputCensus.Count(subjects: 3, runs: 3))
        #expect(!grouped.subjectsComeBack)
    }

    /// Past `limit` subjects the count stops, at `limit + 1`; a file that cannot be read gives
    /// no count.
    @Test func itStopsPastItsLimitAndGivesNothingForAFileItCannotRead() async throws {
        let dir = tempDir()
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try ((0..<50).map { #"{"subject":"person/\#($0)"}"# }.joined(separator: "\n")).write(toFile: dir + "/a.ndjson", atomically: true, encoding: .utf8)
        let c = try #require(try await count(of: InputCensus(files: [dir + "/a.ndjson"], upTo: 10)))
        #expect(c.subjects == 11)
        let missing = InputCensus(files: [dir + "/missing.ndjson", dir + "/a.ndjson"], upTo: 100)
        try await Task.sleep(nanoseconds: 200_000_000)
        #expect(missing.result() == nil)
    }

    /// A bulk load's cache is sized to hold the subjects it is told of when they fit under the
    /// load's ceiling; not outside a load, not past the ceiling; and the load's end returns it
    /// to its limit.
    @Test func aLoadHoldsTheSubjectsItIsToldOfWhenTheyFit() async throws {
        let dir = tempDir()
        let db = try Database(path: dir + "/db")
        defer { db.close() }
        let store = try EventStore(database: db, configuration: .default, projectionCacheLimit: 6)
        await store.holdSubjects(50)
        #expect(await store.subjectGenerationSize == 3)          // no load
        try await store.setBulkLoading(true)
        await store.holdSubjects(EventStore.bulkLoadCacheCeiling)  // two generations of it: past the ceiling
        #expect(await store.subjectGenerationSize == 3)
        await store.holdSubjects(50)
        #expect(await store.subjectGenerationSize == 50)
        try await store.setBulkLoading(false)
        #expect(await store.subjectGenerationSize == 3)
    }
}
