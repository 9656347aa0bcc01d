import Foundation
import Identifiers
import RocksDB
import Testing
@testable import YidangStore

@Suite struct RebuildCeilingTests {
    /// The ceiling reads every event of the log and writes every derived key a rebuild writes,
    /// and leaves the store as it found it: the same digest (log, indexes, every derived
    /// record), the same projection a replay makes (verify). A ceiling that skipped a part
    /// of the derived range, or wrote it differently, changes the digest; one that counted
    /// other keys than the log's reports another number of events.
    @Test func itRewritesEveryDerivedKeyAndCountsTheLog() async throws {
        let dir = tempDir()
        let hub = try Hub(directory: dir + "/hub")
        var text = ""
        // Two departments about the same people, far apart (a registry snapshot's shape), so
        // the store holds conflicts, blocking keys and counters besides records and changes.
        for source in ["gongan", "minzheng"] {
            for i in 0..<1_500 {
                let id = CitizenID.make(region: "110105", birth: "\(1980 + i / 500)0101", sequence: i % 500)
                let name = source == "gongan" ? "张\(i)" : (i % 7 == 0 ? "李\(i)" : "张\(i)")
                text += #"{"specversion":"1.0","id":"\#(source)-\#(i)","source":"\#(source)","type":"person.updated","subject":"person/\#(id)","time":"2026-11-20T08:00:00+08:00","data":{"name":"\#(name)","birthDate":"\#(1980 + i / 500)-01-01"}}"# + "\n"
            }
        }
        try text.write(toFile: dir + "/load.ndjson", atomically: true, encoding: .utf8)
        var importer = Importer(hub: hub)
        importer.chunkSize = 256
        let summary = try await importer.importFiles([dir + "/load.ndjson"], onReject: { r in Issue.record("\(r.rejection)") })
        #expect(summary.accepted == 3_000)
        let before = try StoreDigest.compute(hub.database)
        var derived: [UInt8: Int] = [:]
        try hub.database.scan(from: Keys.derivedRange.lower, to: Keys.derivedRange.upper) { key, _ in
            derived[key[0], default: 0] += 1
            return true
        }
        #expect((derived[Keys.golden] ?? 0) == 1_500 && (derived[Keys.change] ?? 0) >= 1_500, "derived prefixes: \(derived)")
        #expect((derived[Keys.conflict] ?? 0) > 0 && (derived[Keys.blockIndex] ?? 0) > 0, "derived prefixes: \(derived)")

        let measured = try RebuildCeiling.run(database: hub.database)
        #expect(measured.eventsPerSecond > 0 && measured.cpuSecondsPerEvent > 0)
        // The log's 3,000 events, no more (a scan past the log would count derived keys).
        #expect(measured.events == 3_000)
        #expect(try StoreDigest.compute(hub.database) == before)
        #expect(try hub.database.get(Keys.rebuildMarker) == nil)
        #expect(try Verifier.verify(database: hub.database, configuration: hub.configuration, scratchDirectory: tempDir()).isConsistent)
        hub.close()
    }
}
