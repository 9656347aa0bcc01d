import Foundation
import Identifiers
import JSON
import RocksDB
import Testing
import YidangModel
@testable import YidangStore

@Suite struct KeyExistenceTests {
    /// The census hashes stored keys from their bytes, as the writer hashes the keys it makes:
    /// the two must agree, or a stored key would read as never stored.
    @Test func aKeyHashedFromItsBytesHashesAsTheKey() {
        for text in ["", "gongan\u{0}id-1", "市场监管\u{0}" + String(repeating: "x", count: 300)] {
            let bytes = Array(text.utf8)
            #expect(bytes.withUnsafeBufferPointer { ByteKey.hashValue(of: $0) } == ByteKey(bytes).hashValue)
        }
    }

    /// Incomplete, every key may be stored; complete, exactly the census's and the noted keys
    /// are (and a few others, as a Bloom filter's false positives).
    @Test func aFilterAnswersNeverOnlyOnceComplete() {
        let stored = (0..<5_000).map { ByteKey(Array("gongan\u{0}old-\($0)".utf8)) }
        let noted = (0..<5_000).map { ByteKey(Array("gongan\u{0}new-\($0)".utf8)) }
        let never = (0..<5_000).map { ByteKey(Array("renshe\u{0}id-\($0)".utf8)) }
        var existence = KeyExistence<ByteKey>(complete: false, capacity: 1_000)
        for k in noted { existence.noteStored(k) }
        #expect(never.allSatisfy { existence.mayBeStored($0) })
        var census = MembershipFilter<ByteKey>(capacity: 1_000)
        for k in stored { census.insert(hashValue: k.hashValue) }
        existence.complete(with: census)
        #expect(existence.isComplete)
        #expect(stored.allSatisfy { existence.mayBeStored($0) })
        #expect(noted.allSatisfy { existence.mayBeStored($0) })
        let imagined = never.filter { existence.mayBeStored($0) }.count
        #expect(imagined < never.count * 5 / 100, "\(imagined) false positives")
        // Keys noted after the census joins it are found as well.
        existence.noteStored(never[0])
        #expect(existence.mayBeStored(never[0]))
    }

    /// A store that held events when the writer opened it: until the census of its keys is
    /// adopted every key is looked up; after, its stored events are still found (a repeat is a
    /// duplicate at its first position) and its stored golden records still read (a subject's
    /// new event folds into what the store held), through the real store on RocksDB.
    @Test func aReopenedStoreFindsWhatItHeldOnceItsCensusIsAdopted() async throws {
        let dir = tempDir()
        let subjects = (0..<60).map { CitizenID.make(region: "330203", birth: "19800101", sequence: $0) }
        var first: [Event] = []
        do {
            let hub = try Hub(directory: dir)
            defer { hub.close() }
            #expect(await hub.store.keyFiltersComplete)   // empty: nothing to count
            for (n, subject) in subjects.enumerated() {
                first.append(try personEvent(hub, id: "old-\(n)", subject: subject, data: ["name": .string("旧名\(n)")]))
            }
            let results = try await hub.store.append(first)
            #expect(results == (1...UInt64(first.count)).map { .accepted(position: $0) })
        }
        let hub = try Hub(directory: dir)
        defer { hub.close() }
        #expect(await !hub.store.keyFiltersComplete)
        // The first group starts the census; a later one adopts it once done.
        var n = 0
        while await !hub.store.keyFiltersComplete {
            n += 1
            try #require(n < 1_000, "the census was never adopted")
            _ = try await hub.store.append([try personEvent(hub, id: "new-\(n)", subject: "360426199101010071", data: ["phone": .string("1380000\(n)")])])
            try await Task.sleep(for: .milliseconds(5))
        }
        #expect(try await hub.store.append(first) == (1...UInt64(first.count)).map { .duplicate(position: $0) })
        for (i, subject) in subjects.enumerated() {
            let event = try personEvent(hub, id: "phone-\(i)", subject: subject, data: ["phone": .string("1390000\(i)")])
            #expect(try await hub.store.append([event]) == [.accepted(position: UInt64(first.count + n + 1 + i))])
            let state = try #require(try hub.reader.state(of: event.subject))
            #expect(state.goldenText("name") == "旧名\(i)")
            #expect(state.goldenText("phone") == "1390000\(i)")
        }
        #expect(try Verifier.verify(database: hub.database, configuration: hub.configuration, scratchDirectory: tempDir() + "-verify").isConsistent)
    }

    /// A store's first groups, whose filters are complete from the start: every key and record
    /// a group writes is noted by the time the next group is built, and a group's subjects
    /// the filter never saw start new records, repeats within the group folding into one.
    /// The cache holds six records, so the later groups' subjects are read back from the
    /// store (a RocksDB store in a temporary directory): had a group's records or keys gone
    /// unnoted, a later event would start its record anew, or a repeat be stored twice.
    @Test func whatAGroupWritesIsFoundByTheGroupsAfterIt() async throws {
        let db = try Database(path: tempDir() + "/db")
        defer { db.close() }
        let store = try EventStore(database: db, configuration: .default, projectionCacheLimit: 6)
        let hub = try Hub(directory: tempDir() + "-validator")   // only for its validator
        defer { hub.close() }
        #expect(await store.keyFiltersComplete)
        let people = (0..<10).map { CitizenID.make(region: "330203", birth: "19850101", sequence: $0) }
        // One group: each person twice, apart (their names, then their phones).
        var first: [Event] = []
        for (i, id) in people.enumerated() { first.append(try personEvent(hub, id: "name-\(i)", subject: id, data: ["name": .string("名\(i)")])) }
        for (i, id) in people.enumerated() { first.append(try personEvent(hub, id: "phone-\(i)", source: "weijian", subject: id, data: ["phone": .string("1370000\(i)")])) }
        #expect(try await store.append(first) == (1...20).map { .accepted(position: UInt64($0)) })
        // Other people push them out of the cache.
        for round in 0..<3 {
            let others = try (0..<8).map { k in
                try personEvent(hub, id: "other-\(round)-\(k)", subject: CitizenID.make(region: "330204", birth: "19900101", sequence: round * 8 + k),
                                data: ["name": .string("他\(k)")])
            }
            _ = try await store.append(others)
        }
        let head = UInt64(20 + 3 * 8)
        var later: [Event] = []
        for (i, id) in people.enumerated() { later.append(try personEvent(hub, id: "region-\(i)", source: "minzheng", subject: id, data: ["regionCode": "330203"])) }
        #expect(try await store.append(later) == (1...10).map { .accepted(position: head + UInt64($0)) })
        #expect(try await store.append(first) == (1...20).map { .duplicate(position: UInt64($0)) })
        let reader = StoreReader(database: db, configuration: .default)
        for (i, id) in people.enumerated() {
            let state = try #require(try reader.state(of: Subject(kind: .person, id: id)))
            #expect(state.goldenText("name") == "名\(i)")
            #expect(state.goldenText("phone") == "1370000\(i)")
            #expect(state.goldenText("regionCode") == "330203")
            #expect(state.eventCount == 3)
        }
        #expect(try Verifier.verify(database: db, configuration: .default, scratchDirectory: tempDir() + "-verify").isConsistent)
    }
}
