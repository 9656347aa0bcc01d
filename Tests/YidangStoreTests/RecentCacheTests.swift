import Foundation
import Identifiers
import JSON
import RocksDB
import Testing
import YidangModel
import YidangProjection
@testable import YidangStore

@Suite struct RecentCacheTests {
    private struct Refused: Error {}

    /// Runs `body` with a writer on a fresh store whose caches hold six records (a rotation
    /// every few subjects), the store's database, and a hub for its validator.
    private func withTinyCacheWriter(_ name: String = #function, _ body: (Database, EventStore, Hub) async throws -> Void) async throws {
        let db = try Database(path: tempDir(name) + "/db")
        defer { db.close() }
        let store = try EventStore(database: db, configuration: .default, projectionCacheLimit: 6)
        let hub = try Hub(directory: tempDir(name))   // only for its validator
        defer { hub.close() }
        try await body(db, store, hub)
    }

    /// A value loaded, or taken from an older generation, is kept in the young one with what
    /// the body made of it, also when the body throws (the fold changes a record in place and
    /// may fail after): the error reaches the caller, and nothing is loaded twice.
    @Test func aLoadedValueIsKeptWithItsChangesAlsoWhenTheBodyThrows() throws {
        var cache = RecentCache<Int, String>(generationSize: 4)
        #expect(throws: Refused.self) {
            try cache.update(7, load: { "loaded" }) { v in v += " changed"; throw Refused() }
        }
        #expect(cache[7] == "loaded changed")
        #expect(try cache.update(7, load: { Issue.record("7 is cached"); return "" }) { $0 } == "loaded changed")
        cache[8] = "old"
        for k in 0..<3 { cache[k] = "v\(k)" }
        cache.rotateIfFull()                       // 7, 8, 0…2 old
        #expect(throws: Refused.self) {
            try cache.update(8, load: { Issue.record("8 is cached"); return "" }) { v in v += "er"; throw Refused() }
        }
        #expect(cache[8] == "older")
        #expect(cache.count == 5)
    }

    @Test func valuesInUseSurviveRotationsAndTheRestIsForgotten() throws {
        var cache = RecentCache<Int, String>(generationSize: 4)
        for k in 0..<4 { cache[k] = "v\(k)" }
        #expect(cache.isFull)
        cache.rotateIfFull()                       // 0…3 now old
        #expect(cache[2] == "v2")                  // still readable
        // Changed in place: taken out of the old generation into the young one, not loaded.
        let seen = try cache.update(1, load: { Issue.record("1 is cached"); return "" }) { v in defer { v += "'" }; return v }
        #expect(seen == "v1")
        #expect(try cache.update(99, load: { "loaded" }) { $0 } == "loaded")   // a miss loads
        cache[99] = nil
        for k in 10..<13 { cache[k] = "v\(k)" }
        #expect(cache.isFull)
        cache.rotateIfFull()                       // 0, 2, 3 retired; 1 and 10…12 old
        #expect(cache[0] == nil && cache[2] == nil && cache[3] == nil)
        #expect(cache[1] == "v1'" && cache[12] == "v12")
        #expect(cache.count == 4)
        cache[12] = nil
        #expect(cache[12] == nil)
        cache.removeAll()
        #expect(cache.count == 0)
    }

    /// Changing every value (the end of a bulk load marks each record written) works on the
    /// values where they lie, in every generation: each is uniquely referenced when changed,
    /// so no generation's table is copied (every record in it retained) first.
    @Test func everyValueIsChangedInPlace() {
        final class Record { var written = false }
        var cache = RecentCache<Int, Record>(generationSize: 50, keepsLeaving: true)
        for k in 0..<50 { cache[k] = Record() }
        cache.rotateIfFull()
        for k in 50..<100 { cache[k] = Record() }
        cache.rotateIfFull()                       // 0…49 leaving, 50…99 old
        for k in 100..<120 { cache[k] = Record() }
        var changed = 0, shared = 0
        cache.modifyEach { record in
            if !isKnownUniquelyReferenced(&record) { shared += 1 }
            record.written = true
            changed += 1
        }
        #expect(changed == 120)
        #expect(shared == 0, "\(shared) values were changed in a copy of their generation")
        #expect((0..<120).allSatisfy { cache[$0]?.written == true })
    }

    /// Grown, a full young generation takes more values before a rotation; what it held stays.
    @Test func aGrownCacheHoldsMoreBeforeItRotates() {
        var cache = RecentCache<Int, String>(generationSize: 2)
        cache[1] = "a"; cache[2] = "b"
        #expect(cache.isFull)
        cache.grow(toGenerationSize: 4)
        #expect(!cache.isFull && cache.generationSize == 4)
        cache.grow(toGenerationSize: 3)            // never shrinks
        #expect(cache.generationSize == 4)
        cache[3] = "c"; cache[4] = "d"
        #expect(cache.isFull)
        cache.rotateIfFull()
        #expect((1...4).map { cache[$0] } == ["a", "b", "c", "d"])
    }

    /// Keeping a leaving generation, a rotation leaves the old values readable (and movable
    /// back) until the next one retires them.
    @Test func leavingValuesStayReadableForOneMoreRotation() throws {
        var cache = RecentCache<Int, String>(generationSize: 2, keepsLeaving: true)
        cache[1] = "a"; cache[2] = "b"
        cache.rotateIfFull()                       // 1, 2 old
        cache[3] = "c"; cache[4] = "d"
        var retiring: [String] = []
        cache.forEachRetiring { retiring.append($0) }
        #expect(retiring.sorted() == ["a", "b"])
        cache.rotateIfFull()                       // 1, 2 leaving; 3, 4 old
        #expect(cache[1] == "a" && cache.count == 4)
        var current: [String] = []
        cache.forEachCurrent { current.append($0) }
        #expect(current.sorted() == ["c", "d"])
        // Found while leaving: back in the young generation, not loaded.
        #expect(try cache.update(2, load: { Issue.record("2 is cached"); return "" }) { $0 } == "b")
        cache[5] = "e"
        cache.rotateIfFull()                       // 1 retired; 3, 4 leaving; 2, 5 old
        #expect(cache[1] == nil)
        #expect(cache[2] == "b" && cache[3] == "c" && cache[5] == "e")
        #expect(cache.count == 4)
    }

    /// Retired values are freed at least as fast as new ones arrive: what the cache holds
    /// stays bounded however long it runs.
    @Test func retiredValuesNeverPileUp() {
        var cache = RecentCache<Int, Int>(generationSize: 100)
        var worst = 0
        for round in 0..<50 {
            for k in 0..<37 { cache[round * 37 + k] = k }       // a batch of new keys
            cache.rotateIfFull()
            cache.freeRetired(atLeast: 1)
            worst = max(worst, cache.retiredCount)
        }
        #expect(cache.count <= 200)
        #expect(worst <= 100)
        #expect(cache.retiredCount < 100)
    }

    /// A retired generation is freed a part at a time, as asked, each value freed for good
    /// (released, not kept by the cache), and what stays cached is untouched.
    @Test func aRetiredGenerationIsFreedAPartAtATime() {
        final class Counter: @unchecked Sendable { var freed = 0 }
        final class Tracked { let counter: Counter; init(_ c: Counter) { counter = c }; deinit { counter.freed += 1 } }
        let counter = Counter()
        var cache = RecentCache<Int, Tracked>(generationSize: 10)
        for k in 0..<10 { cache[k] = Tracked(counter) }
        cache.rotateIfFull()                       // 0…9 old
        cache.resize(toGenerationSize: 2)
        cache.freeRetired(atLeast: 0)              // counts insertions from here
        cache[100] = Tracked(counter); cache[101] = Tracked(counter)
        cache.rotateIfFull()                       // 0…9 retired; 100, 101 old
        #expect(cache.retiredCount == 10 && counter.freed == 0)
        cache.freeRetired(atLeast: 1)              // twice the two insertions
        #expect(cache.retiredCount == 6 && counter.freed == 4)
        cache.freeRetired(atLeast: 5)
        #expect(cache.retiredCount == 1 && counter.freed == 9)
        cache.freeRetired(atLeast: 5)
        #expect(cache.retiredCount == 0 && counter.freed == 10)
        #expect(cache[100] != nil && cache[101] != nil && cache.count == 2)
        cache.removeAll()
        #expect(counter.freed == 12)
    }

    /// Freeing only what is due leaves a retired generation alone while the young one has
    /// room for twice as many, frees no more than the young generation's growth requires,
    /// and leaves nothing retired once the young generation is full: a writer that frees the
    /// rest while idle never holds more than one retired generation at a rotation.
    @Test func onlyTheRetiredValuesThatWouldOutlastTheNextRotationAreDue() {
        var cache = RecentCache<Int, Int>(generationSize: 10)
        for k in 0..<10 { cache[k] = k }
        cache.rotateIfFull()
        for k in 10..<20 { cache[k] = k }
        cache.rotateIfFull()                       // 0…9 retired; 10…19 old; young empty
        #expect(cache.retiredCount == 10)
        cache.freeRetiredDue()                     // room for 10: 20 may wait
        #expect(cache.retiredCount == 10)
        for k in 20..<26 { cache[k] = k }          // room for 4: 8 may wait
        cache.freeRetiredDue()
        #expect(cache.retiredCount == 8)
        for k in 26..<30 { cache[k] = k }          // full: none may wait
        cache.freeRetiredDue()
        #expect(cache.retiredCount == 0)
        #expect(cache.count == 20 && cache[10] == 10 && cache[29] == 29)
    }

    /// Idle time frees at most what it is given, and says whether any are left.
    @Test func idleFreeingTakesAtMostItsShare() {
        var cache = RecentCache<Int, Int>(generationSize: 10)
        for k in 0..<20 { cache[k] = k; if k % 10 == 9 { cache.rotateIfFull() } }
        #expect(cache.retiredCount == 10)
        let someLeft = cache.freeRetired(atMost: 4)
        #expect(someLeft && cache.retiredCount == 6)
        let moreLeft = cache.freeRetired(atMost: 100)
        #expect(!moreLeft && cache.retiredCount == 0)
        let noneLeft = cache.freeRetired(atMost: 1)
        #expect(!noneLeft)
    }

    /// The live writer frees what its caches let go of while it waits, not as it builds a
    /// group: once it is idle, no retired record is left, and the records it let go of are
    /// read back intact.
    @Test func anIdleWriterKeepsNoRetiredRecords() async throws {
        try await withTinyCacheWriter { db, store, hub in
            let subjects = (0..<40).map { CitizenID.make(region: "330203", birth: "19800101", sequence: $0) }
            // After each append (a rotation every few), once the writer is idle.
            var leftIdle = 0
            for (i, subject) in subjects.enumerated() {
                let results = try await store.append([try personEvent(hub, id: "p\(i)", subject: subject, data: ["name": .string("甲\(i)")])])
                #expect(results == [.accepted(position: UInt64(i + 1))])
                var retired = await store.retiredRecordCount
                for _ in 0..<50 where retired > 0 {
                    try await Task.sleep(nanoseconds: 10_000_000)
                    retired = await store.retiredRecordCount
                }
                leftIdle = max(leftIdle, retired)
            }
            #expect(leftIdle == 0)
            let reader = StoreReader(database: db, configuration: .default)
            for (i, subject) in subjects.enumerated() {
                let state = try reader.state(of: Subject(kind: .person, id: subject))
                #expect(state?.goldenText("name") == "甲\(i)")
            }
        }
    }

    /// A replay's cache is sized to hold every subject of the log when one generation of the
    /// largest cache it may hold takes them all; else it is left as it is.
    @Test func aReplayCacheIsSizedForEverySubjectWhenTheyFit() {
        #expect(ReplayProjectionWriter.generations == 3)
        #expect(ReplayProjectionWriter.fittingGenerationSize(subjects: 49_924, ceiling: 200_000) == 49_924)
        #expect(ReplayProjectionWriter.fittingGenerationSize(subjects: 66_666, ceiling: 200_000) == 66_666)
        #expect(ReplayProjectionWriter.fittingGenerationSize(subjects: 66_667, ceiling: 200_000) == nil)
        #expect(ReplayProjectionWriter.fittingGenerationSize(subjects: 1_000_000, ceiling: 200_000) == nil)
        #expect(ReplayProjectionWriter.fittingGenerationSize(subjects: 0, ceiling: 200_000) == nil)
    }

    /// A writer whose caches rotate every few subjects gives exactly the projection a replay
    /// of the log gives: evicted records are re-read from the store intact.
    @Test func aTinyProjectionCacheLosesNothing() async throws {
        try await withTinyCacheWriter { db, store, hub in
            let subjects = ["11010519491231002X", "360426199101010071", "44011320141005001X", "41170219700422319X"]
            for round in 0..<30 {
                var events: [Event] = []
                for (i, s) in subjects.enumerated() where (round + i) % 3 != 0 {
                    events.append(try personEvent(hub, id: "r\(round)-\(i)", source: round % 2 == 0 ? "gongan" : "renshe", subject: s,
                                                  time: "2026-11-\(10 + round % 9)T08:00:00+08:00",
                                                  data: ["phone": .string("1380000\(String(format: "%04d", round * 7 + i))"),
                                                         "residenceAddress": .string("宁波市海曙区\(round % 4)号")]))
                }
                // Unique subjects push the cache through several rotations between rounds.
                for k in 0..<5 {
                    events.append(try personEvent(hub, id: "u\(round)-\(k)", subject: CitizenID.make(region: "330203", birth: String(format: "198001%02d", 1 + k), sequence: round),
                                                  data: ["name": .string("甲\(round)")]))
                }
                _ = try await store.append(events)
            }
            let report = try Verifier.verify(database: db, configuration: .default, scratchDirectory: tempDir())
            #expect(report.isConsistent, "\(report.mismatches)")
            // And a replay whose caches rotate every few events, in batches of seven, its change
            // feed spread over many ingested files; one whose cache grows as it goes; and one
            // sized to hold every subject from the start (154 subjects, three generations).
            for (limit, expected) in [(1_000, 154), (154, 154), (100, 101)] {
                let census = SubjectCensus(of: db, upTo: limit)
                census.finish()
                #expect(census.result() == expected)
            }
            for ceiling in [6, 48, 1_000] {
                let tiny = try Verifier.verify(database: db, configuration: .default, scratchDirectory: tempDir(),
                                               batchSize: 7, cacheLimit: 6, cacheCeiling: ceiling, changesPerFile: 5, progress: nil)
                #expect(tiny.isConsistent, "\(tiny.mismatches)")
            }
            let expected: UInt64 = 30 * 5 + 80   // unique subjects + two thirds of 30 × 4 rounds
            #expect(report.events == expected)
        }
    }
}


@Suite struct LinkKeyTests {
    /// The keys built in one array are the bytes the store has always held for a link.
    @Test func linkKeysAreTheStoredLayout() {
        let p = Subject(kind: .person, id: "11010519491231002X")
        let e = Subject(kind: .enterprise, id: "91330200MA2XXXXX1K")
        for role in ["employer", "legalRepresentative"] {
            let keys = Keys.linkKeys(Link(person: p, enterprise: e, role: role))
            let roleBytes: [UInt8] = [0] + Array(role.utf8)
            let personSide: [UInt8] = Keys.personLinkPrefix(p.id) + Array(e.id.utf8) + roleBytes
            let enterpriseSide: [UInt8] = Keys.enterpriseLinkPrefix(e.id) + Array(p.id.utf8) + roleBytes
            #expect(keys.person == personSide)
            #expect(keys.enterprise == enterpriseSide)
        }
    }
}
