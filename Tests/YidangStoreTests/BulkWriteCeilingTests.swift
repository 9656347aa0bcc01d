import Foundation
import Identifiers
import RocksDB
import Testing
@testable import YidangStore

@Suite struct BulkWriteCeilingTests {
    /// Per key prefix below the non-derived stores' range: how many keys, and their values'
    /// mean size. The derived counters (0x1F) and quality counts (0x16) are per group, not per
    /// event, and left out.
    static func layout(_ database: Database) throws -> [UInt8: (keys: Int, meanValue: Double)] {
        var keys: [UInt8: Int] = [:], bytes: [UInt8: Int] = [:]
        try database.scan(from: [Keys.log], to: [0x20]) { key, value in
            let prefix = key[0]
            if prefix != Keys.derivedMeta && prefix != Keys.quality {
                keys[prefix, default: 0] += 1
                bytes[prefix, default: 0] += value.count
            }
            return true
        }
        return keys.reduce(into: [:]) { out, entry in
            out[entry.key] = (entry.value, Double(bytes[entry.key] ?? 0) / Double(entry.value))
        }
    }

    /// `events` NDJSON lines of a bulk sync, each about a new person, as the bulk load sends them.
    static func bulkLines(_ events: Int) -> [[UInt8]] {
        (0..<events).map { n in
            let id = CitizenID.make(region: "330203", birth: "19\(50 + n % 50)0101", sequence: n)
            return Array(#"{"specversion":"1.0","id":"bulk-1-\#(n)","source":"gongan","type":"person.updated","subject":"person/\#(id)","time":"2026-11-20T08:00:00+08:00","data":{"name":"批量\#(n)","regionCode":"330203"}}"#.utf8)
        }
    }

    /// `lines` through the hub's ingest pipeline as one request, published by 公安.
    static func ingest(_ lines: [[UInt8]], into hub: Hub) async throws -> [AppendResult] {
        let pipeline = IngestPipeline(hub: hub)
        let now = EventStore.now()
        return try await pipeline.ingest(count: lines.count) { pipeline.admit(line: lines[$0], by: Publisher(department: "gongan"), now: now) }.results
    }

    /// The ceiling stands for the hub's own writes: for the same number of bulk events about
    /// new people it writes keys under exactly the prefixes the writer does, as many, with
    /// values of about the same sizes. A writer that stores another key per event, or much
    /// larger records, fails this until the ceiling writes them too.
    @Test func itWritesWhatTheWriterWritesForABulkSync() async throws {
        let events = 200
        let lines = Self.bulkLines(events)
        let hub = try Hub(directory: tempDir() + "/hub")
        defer { hub.close() }
        let results = try await Self.ingest(lines, into: hub)
        #expect(results.allSatisfy { if case .accepted = $0 { true } else { false } })
        let written = try Self.layout(hub.database)

        let (ceilingStore, _) = try Hub.openDatabase(directory: tempDir() + "/ceiling", configPath: nil)
        defer { ceilingStore.close() }
        let measured = try BulkWriteCeiling.run(database: ceilingStore, events: events, batch: 64, writers: 2)
        #expect(measured.eventsPerSecond > 0 && measured.cpuSecondsPerEvent > 0)
        let ceiling = try Self.layout(ceilingStore)

        #expect(Set(ceiling.keys) == Set(written.keys), "prefixes: ceiling \(ceiling.keys.sorted()), writer \(written.keys.sorted())")
        for (prefix, w) in written {
            let c = ceiling[prefix]
            #expect(w.keys == events && c?.keys == events, "prefix \(prefix): writer \(w.keys) keys, ceiling \(c?.keys ?? 0), events \(events)")
            // Sizes within a quarter (a record's bytes grow with its numbers' digits), or 8 bytes for the small ones.
            let tolerance = max(8, w.meanValue / 4)
            #expect(abs((c?.meanValue ?? -1000) - w.meanValue) <= tolerance, "prefix \(prefix): values \(c?.meanValue ?? -1) bytes in the ceiling, \(w.meanValue) from the writer")
        }
    }

    /// From a bulk body's lines, the HTTP ceiling (`bench-publish-ceiling --bulk`) writes the
    /// writer's own keys: the log, subject-index, idempotency, golden-record and change keys
    /// the hub stores for the same lines, from the three fields it reads out of each line's
    /// bytes. A line without them, or about an enterprise, is answered and written nowhere.
    @Test func fromALineItWritesTheKeysTheWriterStoresForIt() async throws {
        let events = 60
        let lines = Self.bulkLines(events)
        let hub = try Hub(directory: tempDir() + "/hub")
        defer { hub.close() }
        _ = try await Self.ingest(lines, into: hub)

        let (ceilingStore, _) = try Hub.openDatabase(directory: tempDir() + "/ceiling", configPath: nil)
        defer { ceilingStore.close() }
        let ordered = OrderedWriteBatch()
        for (n, line) in lines.enumerated() {
            let fields = BulkWriteCeiling.put(line: line[...], position: UInt64(n + 1), into: ordered)
            #expect(fields?.id == "bulk-1-\(n)" && fields?.source == "gongan")
        }
        let enterprise = Array(#"{"id":"e-1","source":"shichang","subject":"enterprise/91330203MA2AAAAA1X"}"#.utf8)
        let noId = Array(#"{"source":"gongan","subject":"person/330203195001010011"}"#.utf8)
        #expect(BulkWriteCeiling.put(line: enterprise[...], position: 1000, into: ordered) == nil)
        #expect(BulkWriteCeiling.put(line: noId[...], position: 1001, into: ordered) == nil)
        #expect(ordered.count == 5 * events)
        try ceilingStore.write(ordered.build(families: ceilingStore.families), sync: true)

        func keys(_ database: Database) throws -> [[UInt8]] {
            var out: [[UInt8]] = []
            for tag in [Keys.log, Keys.subjectIndex, Keys.idempotency, Keys.golden, Keys.change] {
                try database.scan(from: [tag], to: [tag + 1]) { key, _ in out.append(Array(key)); return true }
            }
            return out
        }
        let written = try keys(hub.database), ceiling = try keys(ceilingStore)
        #expect(written.count == 5 * events)
        let differing = zip(ceiling, written).enumerated().first { $0.element.0 != $0.element.1 }
        #expect(ceiling.count == written.count && differing == nil,
                "\(ceiling.count) keys against the writer's \(written.count); first differing: \(differing.map { "\($0.element.0) against \($0.element.1)" } ?? "none")")
    }

    /// Written as the import writes a load, the ceiling stores the same keys and values as
    /// through synced batches, with the log's entries and the change records in the last
    /// level (the import's layout), and returns with no flush or compaction left to do.
    @Test func asAnImportItWritesTheSameKeysAsTheLoadDoes() throws {
        let events = 3_000
        let (live, _) = try Hub.openDatabase(directory: tempDir() + "/live", configPath: nil)
        defer { live.close() }
        _ = try BulkWriteCeiling.run(database: live, events: events, batch: 100, writers: 1)
        let (loaded, _) = try Hub.openDatabase(directory: tempDir() + "/loaded", configPath: nil)
        defer { loaded.close() }
        let measured = try BulkWriteCeiling.runAsImport(database: loaded, events: events, group: 700)
        #expect(measured.eventsPerSecond > 0 && measured.cpuSecondsPerEvent > 0)
        var a: [([UInt8], [UInt8])] = [], b: [([UInt8], [UInt8])] = []
        try live.scan(from: [Keys.log], to: [0x20]) { k, v in a.append((k, v)); return true }
        try loaded.scan(from: [Keys.log], to: [0x20]) { k, v in b.append((k, v)); return true }
        #expect(a.count == 5 * events)
        #expect(a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 })
        #expect(try !loaded.backgroundWorkPending())
        let files = try loaded.liveTableFiles()
        for prefix in [Keys.log, Keys.change] {
            let own = files.filter { $0.smallestKey.first == prefix && $0.largestKey.first == prefix }
            #expect(own.reduce(0) { $0 + $1.entries } == UInt64(events), "prefix \(prefix)")
            #expect(own.allSatisfy { $0.level == 6 }, "prefix \(prefix): levels \(own.map(\.level))")
        }
    }
}
