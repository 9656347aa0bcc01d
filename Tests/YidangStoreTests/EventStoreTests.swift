import Foundation
import Identifiers
import JSON
import RocksDB
import Synchronization
import Testing
import TestSupport
import YidangModel
import YidangProjection
@testable import YidangStore

func tempDir(_ name: String = #function) -> String {
    TestDirectories.make("store", for: name)
}

func personEvent(_ hub: Hub, id: String, source: String = "gongan", subject: String = "11010519491231002X",
                 time: String = "2026-11-20T08:00:00+08:00", data: JSONValue) throws -> Event {
    let json: JSONValue = ["specversion": "1.0", "id": .string(id), "source": .string(source), "type": "person.updated",
                           "subject": .string("person/" + subject), "time": .string(time), "data": data]
    return try hub.validator.validate(json, now: EventStore.now())
}

@Suite struct EventStoreTests {
    @Test func appendAssignsPositionsAndIsIdempotent() async throws {
        let hub = try Hub(directory: tempDir())
        defer { hub.close() }
        let a = try personEvent(hub, id: "a", data: ["name": "张三"])
        let b = try personEvent(hub, id: "b", data: ["name": "张三"])
        #expect(try await hub.store.append([a, b, a]) == [.accepted(position: 1), .accepted(position: 2), .duplicate(position: 1)])
        #expect(try await hub.store.append([b]) == [.duplicate(position: 2)])
        #expect(try hub.reader.headPosition() == 2)
        #expect(try hub.reader.history(of: a.subject).map(\.id) == ["a", "b"])
        #expect(try hub.reader.position(source: "gongan", id: "b") == 2)
        #expect(try hub.reader.changes(after: 0, limit: 10).count == 1)   // b changed nothing visible
    }

    /// A record gets blocking entries once it holds a value of each attribute of a rule
    /// (name + birth date, name + address, phone): a name alone gives none, the birth date
    /// that completes a rule gives that rule's, a one-attribute rule gives its own at once.
    @Test func blockingEntriesWaitForARuleToBeFilled() async throws {
        let hub = try Hub(directory: tempDir())
        defer { hub.close() }
        func entries() throws -> Int {
            var n = 0
            try hub.database.scan(from: [Keys.blockIndex], to: [Keys.blockIndex + 1]) { _, _ in n += 1; return true }
            return n
        }
        _ = try await hub.store.append([try personEvent(hub, id: "n", data: ["name": "张三"])])
        #expect(try entries() == 0)
        _ = try await hub.store.append([try personEvent(hub, id: "b", data: ["birthDate": "1949-12-31"])])
        let named = try entries()
        #expect(named > 0)
        _ = try await hub.store.append([try personEvent(hub, id: "p", subject: "360426199101010071", data: ["phone": "13800000001"])])
        #expect(try entries() > named)
        #expect(try Verifier.verify(database: hub.database, configuration: hub.configuration, scratchDirectory: tempDir()).isConsistent)
    }

    /// Consecutive events of a subject share one subject-index entry; history reads runs,
    /// single entries (the older form) and runs split across groups alike, and verify
    /// proves both log indexes agree with the log — and names what a tampered one breaks.
    @Test func subjectRunsReadBackAndTamperedLogIndexesAreFound() async throws {
        let hub = try Hub(directory: tempDir())
        defer { hub.close() }
        let other = "360426199101010071"
        _ = try await hub.store.append([
            try personEvent(hub, id: "a1", data: ["name": "张三"]),
            try personEvent(hub, id: "a2", data: ["phone": "13800000001"]),
            try personEvent(hub, id: "a3", source: "renshe", data: ["education": "本科"]),
            try personEvent(hub, id: "b1", subject: other, data: ["name": "李四"]),
            try personEvent(hub, id: "a4", data: ["phone": "13800000002"]),
        ])
        _ = try await hub.store.append([try personEvent(hub, id: "a5", data: ["phone": "13800000003"])])
        let a = try Subject(reference: "11010519491231002X")
        #expect(try hub.reader.positions(of: a) == [1, 2, 3, 5, 6])
        #expect(try hub.reader.history(of: a).map(\.id) == ["a1", "a2", "a3", "a4", "a5"])
        var entries: [[UInt8]: [UInt8]] = [:]
        try hub.database.scan(from: [Keys.subjectIndex], to: [Keys.subjectIndex + 1]) { k, v in entries[k] = v; return true }
        #expect(entries.count == 4)                                // a1–a3 · b1 · a4 · a5
        #expect(entries[Keys.subjectKey(a, 1)] == [1, 1])          // positions 2 and 3 as deltas
        #expect(try Verifier.verify(database: hub.database, configuration: hub.configuration, scratchDirectory: tempDir()).isConsistent)

        // An entry in the older one-position form reads the same.
        try hub.database.put(Keys.subjectKey(a, 1), [])
        try hub.database.put(Keys.subjectKey(a, 2), [1])
        #expect(try hub.reader.positions(of: a) == [1, 2, 3, 5, 6])
        #expect(try Verifier.verify(database: hub.database, configuration: hub.configuration, scratchDirectory: tempDir()).isConsistent)

        // Tampering: an event listed under the wrong subject, one left out, a bogus identity.
        try hub.database.put(Keys.subjectKey(try Subject(reference: other), 5), [])
        try hub.database.put(Keys.subjectKey(a, 2), [])
        try hub.database.put(Keys.idempotencyKey(source: "gongan", id: "ghost"), Keys.be(4))
        let report = try Verifier.verify(database: hub.database, configuration: hub.configuration, scratchDirectory: tempDir())
        #expect(report.mismatches.contains("subject index: position 3 is missing"))
        #expect(report.mismatches.contains { $0.contains("position 5 is listed under person/360426199101010071") })
        #expect(report.mismatches.contains { $0.hasPrefix("idempotency index: position 4") })
        // Checked in windows of two positions, the findings are the same.
        var whole: [String] = [], windowed: [String] = []
        try LogIndexCheck.check(database: hub.database, configuration: hub.configuration, into: &whole)
        try LogIndexCheck.check(database: hub.database, configuration: hub.configuration, window: 2, into: &windowed)
        #expect(!whole.isEmpty)
        #expect(Set(windowed) == Set(whole))
    }

    /// A commit that fails answers every caller of its group (and of the group built on it)
    /// with the error: nobody hangs, nobody is told "accepted".
    @Test func aFailedCommitFailsItsCallers() async throws {
        let dir = tempDir()
        let db = try Database(path: dir + "/db")
        let store = try EventStore(database: db, configuration: .default)
        let hub = try Hub(directory: tempDir())   // only for its validator
        defer { hub.close() }
        let first = try personEvent(hub, id: "ok", data: ["name": "张三"])
        #expect(try await store.append([first]) == [.accepted(position: 1)])
        db.close()
        let outcomes = await withTaskGroup(of: Bool.self) { group in
            for i in 0..<6 {
                let e = try? personEvent(hub, id: "late\(i)", data: ["name": .string("李四\(i)")])
                group.addTask {
                    guard let e else { return false }
                    do { _ = try await store.append([e]); return false } catch { return true }
                }
            }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(outcomes == Array(repeating: true, count: 6))
    }

    @Test func releasedCachesAreReReadIntact() async throws {
        let hub = try Hub(directory: tempDir())
        defer { hub.close() }
        let subject = Subject(kind: .person, id: "11010519491231002X")
        _ = try await hub.store.append([try personEvent(hub, id: "a", data: ["name": "张三", "householdAddress": "宁波市海曙区1号"])])
        await hub.store.releaseCaches()
        // The next event folds into the state read back from RocksDB, not into an empty one.
        _ = try await hub.store.append([try personEvent(hub, id: "b", source: "renshe", data: ["householdAddress": "宁波市江北区2号"])])
        let state = try #require(try hub.reader.state(of: subject))
        #expect(state.version == 2)
        #expect(state.golden("name")?.value == "张三")
        #expect(state.golden("householdAddress")?.value == "宁波市海曙区1号")   // 公安 is its source
        #expect(state.golden("householdAddress")?.conflict == true)
        let report = try Verifier.verify(database: hub.database, configuration: hub.configuration, scratchDirectory: tempDir())
        #expect(report.isConsistent, "\(report.mismatches)")
    }

    @Test func concurrentPublishersAreGroupCommittedInOneOrder() async throws {
        let hub = try Hub(directory: tempDir())
        defer { hub.close() }
        let batches = ThreadSafeCounter()
        await hub.store.setCommitObserver { _ in batches.increment() }
        let count = 400
        let positions = try await withThrowingTaskGroup(of: UInt64?.self) { group in
            for i in 0..<count {
                let e = try personEvent(hub, id: "e\(i)", subject: i % 2 == 0 ? "11010519491231002X" : "360426199101010071",
                                        data: ["phone": .string("1380000\(String(format: "%04d", i))")])
                group.addTask { try await hub.store.append([e]).first?.position }
            }
            var out: [UInt64] = []
            for try await p in group { if let p { out.append(p) } }
            return out
        }
        #expect(Set(positions) == Set(1...UInt64(count)))
        #expect(batches.value < count)          // fewer commits than events: grouped
        let report = try Verifier.verify(database: hub.database, configuration: hub.configuration, scratchDirectory: tempDir())
        #expect(report.isConsistent, "\(report.mismatches)")
    }

    /// The commit observer hears of each durable group once, with its events and the time
    /// each serial stage took: the writer's build and the commit thread's write.
    @Test func theCommitObserverTimesEachGroupsBuildAndWrite() async throws {
        let hub = try Hub(directory: tempDir())
        defer { hub.close() }
        let groups = Mutex<[GroupCommit]>([])
        await hub.store.setCommitObserver { group in groups.withLock { $0.append(group) } }
        let large = try (0..<EventStore.largeAppend).map { i in
            try personEvent(hub, id: "b\(i)", subject: CitizenID.make(region: "110105", birth: "19800101", sequence: i),
                            data: ["name": .string("张\(i)")])
        }
        let single = try personEvent(hub, id: "s", subject: "11010519491231002X", data: ["phone": .string("13800000000")])
        // A large append is answered by the commit thread, a small one by the writer: both tell the observer.
        _ = try await hub.store.append(large)
        _ = try await hub.store.append([single])
        let seen = groups.withLock { $0 }
        #expect(seen.map(\.events) == [EventStore.largeAppend, 1])
        for group in seen {
            #expect(group.buildSeconds > 0 && group.buildSeconds < 60)
            #expect(group.writeSeconds > 0 && group.writeSeconds < 60)
        }
    }

    /// Which waiting appends a group takes: small ones together up to the ceiling; an
    /// isolated one alone, only with nothing in flight; while callers wait, a large append
    /// (an HTTP bulk request) alone, so two clients' requests are answered one after the
    /// other; in a bulk load, large appends together.
    @Test func aGroupTakesSmallAppendsTogetherAndALargeOneAlone() {
        func length(_ counts: [Int], isolated: Set<Int> = [], idle: Bool = true, largeAlone: Bool = true) -> Int {
            EventStore.groupLength(counts.enumerated().map { ($0.element, isolated.contains($0.offset)) }, idle: idle, largeAlone: largeAlone)
        }
        #expect(length([]) == 0)
        #expect(length([1, 1, 1, 1]) == 4)
        #expect(length([1, 1, 1, 1], isolated: [2]) == 2)
        #expect(length([1, 1], isolated: [0]) == 1)
        #expect(length([1, 1], isolated: [0], idle: false) == 0)
        #expect(length([1_000, 1_000, 1]) == 1)
        #expect(length([1, 1, 1_000, 1]) == 2)
        #expect(length([999, 1, 1]) == 2)
        #expect(length([1_000, 1_000, 1], largeAlone: false) == 3)
        #expect(length([15_000, 5_000, 1], largeAlone: false) == 2)
        #expect(length([25_000, 1], largeAlone: false) == 1)
    }

    /// Two large appends submitted together by two callers are written as two groups,
    /// each answered with its own positions.
    @Test func twoLargeAppendsAreWrittenAsTwoGroups() async throws {
        let hub = try Hub(directory: tempDir())
        defer { hub.close() }
        let sizes = Mutex<[Int]>([])
        await hub.store.setCommitObserver { group in sizes.withLock { $0.append(group.events) } }
        func events(_ prefix: String, _ base: Int) throws -> [Event] {
            try (0..<EventStore.largeAppend).map { i in
                try personEvent(hub, id: "\(prefix)\(i)", subject: CitizenID.make(region: "110105", birth: "19800101", sequence: base + i),
                                data: ["name": .string("张\(i)")])
            }
        }
        let first = hub.store.submit(try events("a", 0), isolated: false, stamp: nil)
        let second = hub.store.submit(try events("b", 2_000), isolated: false, stamp: nil)
        let a = try await first.results, b = try await second.results
        #expect(a.count == EventStore.largeAppend && b.count == EventStore.largeAppend)
        #expect(sizes.withLock { $0 } == [EventStore.largeAppend, EventStore.largeAppend])
        let report = try Verifier.verify(database: hub.database, configuration: hub.configuration, scratchDirectory: tempDir())
        #expect(report.isConsistent, "\(report.mismatches)")
    }

    /// A large append's caller is answered the moment its group is durable, while the writer
    /// is still folding the next group: the writer's clock, read as each group's fold begins,
    /// holds the second group's fold until the first caller has its answer (or 10 s pass).
    /// Answered by the writer after that fold, as before, the first caller waited the whole 10 s.
    @Test func aLargeAppendIsAnsweredWhileTheNextGroupIsFolded() async throws {
        let hub = try Hub(directory: tempDir())   // only for its validator
        defer { hub.close() }
        let first = Mutex<CommitTicket?>(nil)
        let folds = Mutex(0)
        let answeredDuringFold = Mutex<Bool?>(nil)
        let db = try Database(path: tempDir() + "/db")
        defer { db.close() }
        let store = try EventStore(database: db, configuration: .default, clock: {
            if folds.withLock({ $0 += 1; return $0 }) == 2 {
                let deadline = Date().addingTimeInterval(10)
                while first.withLock({ $0?.promise.completed }) == nil && Date() < deadline { usleep(1_000) }
                answeredDuringFold.withLock { $0 = first.withLock { $0?.promise.completed } != nil }
            }
            return EventStore.now()
        })
        func events(_ prefix: String, _ base: Int) throws -> [Event] {
            try (0..<EventStore.largeAppend).map { i in
                try personEvent(hub, id: "\(prefix)\(i)", subject: CitizenID.make(region: "110105", birth: "19800101", sequence: base + i),
                                data: ["name": .string("张\(i)")])
            }
        }
        let a = try events("a", 0), b = try events("b", 2_000)
        let ticketA = store.submit(a, isolated: false, stamp: nil)
        first.withLock { $0 = ticketA }
        let ticketB = store.submit(b, isolated: false, stamp: nil)
        let resultsA = try await ticketA.results, resultsB = try await ticketB.results
        #expect(answeredDuringFold.withLock { $0 } == true)
        #expect(resultsA == (1...UInt64(EventStore.largeAppend)).map { .accepted(position: $0) })
        #expect(resultsB.last == .accepted(position: 2 * UInt64(EventStore.largeAppend)))
        // Appends that share a group, small ones and a bulk load's are answered by the writer.
        #expect(EventStore.answersOnDurability([.init(events: a, promise: Promise())], inBulkLoad: false))
        #expect(!EventStore.answersOnDurability([.init(events: a, promise: Promise())], inBulkLoad: true))
        #expect(!EventStore.answersOnDurability([.init(events: a, promise: Promise()), .init(events: b, promise: Promise())], inBulkLoad: false))
        #expect(!EventStore.answersOnDurability([.init(events: Array(a.prefix(10)), promise: Promise())], inBulkLoad: false))
    }

    @Test func rebuildRecreatesEverythingAndVerifyDetectsTampering() async throws {
        let hub = try Hub(directory: tempDir())
        defer { hub.close() }
        _ = try await hub.store.append([
            try personEvent(hub, id: "g", data: ["name": "张三", "residenceAddress": "A"]),
            try personEvent(hub, id: "z", source: "zhujian", data: ["residenceAddress": "B"]),
            try personEvent(hub, id: "r", source: "renshe", data: ["employer": "91310115MA1K3BTP2B"]),
        ])
        let conflict = try #require(try hub.reader.conflicts(ConflictFilter()).first)
        let decision = try Steward.decision(conflict: conflict, action: .reject, value: nil, source: "zhujian", steward: "王芳",
                                            note: nil, configuration: hub.configuration, now: EventStore.now())
        #expect(try await hub.store.append([decision]).first?.position == 4)
        let before = try hub.reader.state(of: conflict.subject)
        let changesBefore = try hub.reader.changes(after: 0, limit: 100)
        let rebuilt = try Rebuilder.rebuild(from: hub.database, into: hub.database, configuration: hub.configuration)
        // Four events, and both parts of the time: the replay, then the files written and ingested.
        #expect(rebuilt.events == 4)
        #expect(rebuilt.replaySeconds > 0 && rebuilt.finishSeconds > 0)
        #expect(!FileManager.default.fileExists(atPath: hub.database.path + ".ingest"))   // the change files were moved in
        #expect(try hub.reader.state(of: conflict.subject) == before)
        #expect(try hub.reader.changes(after: 0, limit: 100) == changesBefore)
        #expect(try hub.reader.links(of: conflict.subject).map(\.enterprise.id) == ["91310115MA1K3BTP2B"])
        #expect(try Verifier.verify(database: hub.database, configuration: hub.configuration, scratchDirectory: tempDir()).isConsistent)

        try hub.database.put(Keys.goldenKey(conflict.subject), SubjectState(subject: conflict.subject).encoded())
        let report = try Verifier.verify(database: hub.database, configuration: hub.configuration, scratchDirectory: tempDir())
        #expect(report.mismatches == ["differs: golden record person/11010519491231002X"])
    }

    /// A replay encodes a golden record early (a draft) once a batch has passed without
    /// changing it; a later change makes the draft stale, and the end encodes the record
    /// again. In batches of two, A and B are drafted after the second batch, C after the
    /// third, and A changes in the third.
    @Test func rebuildUsesGoldenRecordDraftsOnlyWhileCurrent() async throws {
        let hub = try Hub(directory: tempDir())
        defer { hub.close() }
        let a = "11010519491231002X", b = "360426199101010071", c = "44011320141005001X"
        let events: [(String, JSONValue)] = [(a, ["name": "张三"]), (b, ["name": "李四"]), (c, ["name": "王五"]),
                                             (c, ["phone": "13900000002"]), (a, ["name": "张三丰"])]
        for (i, (subject, data)) in events.enumerated() {
            _ = try await hub.store.append([try personEvent(hub, id: "e\(i)", subject: subject, data: data)])
        }
        let subjects = [a, b, c].map { Subject(kind: .person, id: $0) }
        let before = try subjects.map { try hub.reader.state(of: $0) }
        try Rebuilder.rebuild(from: hub.database, into: hub.database, configuration: hub.configuration, batchSize: 2)
        #expect(try subjects.map { try hub.reader.state(of: $0) } == before)
        #expect(try hub.reader.state(of: subjects[0])?.golden("name")?.value == "张三丰")
        let report = try Verifier.verify(database: hub.database, configuration: hub.configuration, scratchDirectory: tempDir())
        #expect(report.isConsistent, "\(report.mismatches)")
    }

    /// The end of a replay writes a record's draft when the record's event count is the one
    /// drafted, and encodes the record anew otherwise (stale, dropped, or taken out).
    @Test func goldenRecordDraftsAreUsedForTheStateDrafted() throws {
        let db = try Database(path: tempDir() + "/db")
        defer { db.close() }
        let files = try ReplayFiles(database: db, directory: db.path + ".ingest")
        let ids = ["11010519491231002X", "360426199101010071", "110105194912310037", "110105194912310045"]
        let subjects = ids.map { Subject(kind: .person, id: $0) }
        var drafted = SubjectState(subject: subjects[0])
        drafted.eventCount = 5
        drafted.version = 1
        files.draft(drafted, number: 0)
        var same = drafted
        same.version = 2             // the same event count: the draft stands for it
        var stale = SubjectState(subject: subjects[1])
        files.draft(stale, number: 1)
        stale.eventCount = 1         // changed since its draft
        // Dropped: not used even for a state of the same event count.
        var dropped = SubjectState(subject: subjects[2])
        dropped.eventCount = 3
        files.draft(dropped, number: 2)
        files.dropDraft(2)
        var second = dropped
        second.version = 7
        // Written when it left the cache: its draft is taken, and not used again.
        var left = SubjectState(subject: subjects[3])
        left.eventCount = 2
        left.version = 4
        files.draft(left, number: 3)
        #expect(files.takeDraft(number: 3, of: left) == left.encoded())
        #expect(files.takeDraft(number: 3, of: left) == nil)
        var later = left
        later.version = 5            // the same event count, but no draft any more
        let drafts: [Int?] = [0, 1, 2, 3]
        try files.putGoldens(zip([same, stale, second, later], drafts).map { ($0, $1) })
        try files.ingest()
        #expect(try db.get(Keys.goldenKey(subjects[0])) == drafted.encoded())
        #expect(try db.get(Keys.goldenKey(subjects[1])) == stale.encoded())
        #expect(try db.get(Keys.goldenKey(subjects[2])) == second.encoded())
        #expect(try db.get(Keys.goldenKey(subjects[3])) == later.encoded())
    }

    @Test func aStoreWithFormatOneGoldenRecordsVerifiesAndKeepsFolding() async throws {
        let hub = try Hub(directory: tempDir())
        defer { hub.close() }
        let subject = Subject(kind: .person, id: "11010519491231002X")
        _ = try await hub.store.append([
            try personEvent(hub, id: "g", data: ["name": "张三", "residenceAddress": "A"]),
            try personEvent(hub, id: "z", source: "zhujian", data: ["residenceAddress": "B"]),
        ])
        // As a store written before format 2 holds it: golden values in full.
        let state = try #require(try hub.reader.state(of: subject))
        await hub.store.releaseCaches()
        try hub.database.put(Keys.goldenKey(subject), state.encoded(format: 1))
        #expect(try hub.reader.state(of: subject) == state)
        var report = try Verifier.verify(database: hub.database, configuration: hub.configuration, scratchDirectory: tempDir())
        #expect(report.isConsistent, "\(report.mismatches)")
        // A format-1 record that holds something else still differs.
        var other = state
        other.version += 1
        try hub.database.put(Keys.goldenKey(subject), other.encoded(format: 1))
        report = try Verifier.verify(database: hub.database, configuration: hub.configuration, scratchDirectory: tempDir())
        #expect(report.mismatches == ["differs: golden record person/11010519491231002X"])
        try hub.database.put(Keys.goldenKey(subject), state.encoded(format: 1))
        // The next event folds into the format-1 state and writes format 2.
        _ = try await hub.store.append([try personEvent(hub, id: "p", source: "yibao", data: ["phone": "13800000000"])])
        #expect(try hub.database.get(Keys.goldenKey(subject))?.first == SubjectState.formatVersion)
        #expect(try hub.reader.state(of: subject)?.golden("residenceAddress")?.value == state.golden("residenceAddress")?.value)
        report = try Verifier.verify(database: hub.database, configuration: hub.configuration, scratchDirectory: tempDir())
        #expect(report.isConsistent, "\(report.mismatches)")
    }

    @Test func stewardDecisionOnASettledConflictIsRejectedAndNotStored() async throws {
        let hub = try Hub(directory: tempDir())
        defer { hub.close() }
        _ = try await hub.store.append([
            try personEvent(hub, id: "g", data: ["name": "张三"]),
            try personEvent(hub, id: "r", source: "renshe", data: ["name": "张叁"]),
        ])
        let conflict = try #require(try hub.reader.conflicts(ConflictFilter()).first)
        let accept = { try Steward.decision(conflict: conflict, action: .accept, value: nil, source: nil, steward: "李", note: nil,
                                            configuration: hub.configuration, now: EventStore.now()) }
        #expect(try await hub.store.append([accept()]).first == .accepted(position: 3))
        guard case .rejected(let r)? = try await hub.store.append([accept()]).first else { Issue.record("expected rejection"); return }
        #expect(r.code == .conflictNotOpen)
        #expect(try hub.reader.headPosition() == 3)
    }

    @Test func asOfAndKnownAtReads() async throws {
        let clock = ManualClock(start: 1_000)
        let dir = tempDir()
        let (db, config) = try Hub.openDatabase(directory: dir, configPath: nil)
        let store = try EventStore(database: db, configuration: config, clock: { clock.now })
        let validator = EventValidator(configuration: config)
        func ev(_ id: String, _ time: String, _ addr: String) throws -> Event {
            try validator.validate(["specversion": "1.0", "id": .string(id), "source": "gongan", "type": "person.updated",
                                    "subject": "person/11010519491231002X", "time": .string(time), "data": ["householdAddress": .string(addr)]],
                                   now: EventStore.now())
        }
        _ = try await store.append([try ev("1", "2020-01-01T00:00:00Z", "A")])
        clock.now = 2_000
        _ = try await store.append([try ev("2", "2024-01-01T00:00:00Z", "B")])
        clock.now = 3_000
        _ = try await store.append([try ev("3", "2022-01-01T00:00:00Z", "C")])   // late-arriving middle fact
        let reader = StoreReader(database: db, configuration: config)
        let s = Subject(kind: .person, id: "11010519491231002X")
        #expect(try reader.state(of: s)?.golden("householdAddress")?.value == "B")
        #expect(try reader.state(of: s, asOf: Timestamp.parse("2023-01-01T00:00:00Z"), knownAt: nil)?.golden("householdAddress")?.value == "C")
        #expect(try reader.state(of: s, asOf: Timestamp.parse("2023-01-01T00:00:00Z"), knownAt: 2_500)?.golden("householdAddress")?.value == "A")
        #expect(try reader.state(of: s, asOf: Timestamp.parse("2019-01-01T00:00:00Z"), knownAt: nil) == nil)
        db.close()
    }

    @Test func reopenContinuesPositionsAndCounters() async throws {
        let dir = tempDir()
        do {
            let hub = try Hub(directory: dir)
            _ = try await hub.store.append([try personEvent(hub, id: "1", data: ["name": "张三"]),
                                            try personEvent(hub, id: "2", source: "renshe", data: ["name": "张叁"])])
            hub.close()
        }
        let hub = try Hub(directory: dir)
        defer { hub.close() }
        #expect(try await hub.store.append([try personEvent(hub, id: "3", source: "minzheng", subject: "360426199101010071", data: ["name": "李"])])
                == [.accepted(position: 3)])
        #expect(try hub.reader.changeHead() == 3)
        #expect(try hub.reader.conflicts(ConflictFilter()).map(\.id) == [1])
        let q = try hub.reader.quality().first { $0.department == "renshe" }
        #expect(q?.accepted == 1)
        #expect(q?.conflictsOpened == 1)
    }
}

final class ThreadSafeCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    func increment() { lock.lock(); n += 1; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return n }
}

final class ManualClock: @unchecked Sendable {
    private let lock = NSLock()
    private var t: Int64
    init(start: Int64) { t = start }
    var now: Int64 {
        get { lock.lock(); defer { lock.unlock() }; return t }
        set { lock.lock(); t = newValue; lock.unlock() }
    }
}

@Suite struct RebuildSafetyTests {
    /// A rebuild interrupted after clearing the derived stores leaves a marker; the writer
    /// refuses to start on it until a rebuild completes.
    @Test func interruptedRebuildBlocksTheWriterUntilRebuilt() async throws {
        let dir = tempDir()
        do {
            let hub = try Hub(directory: dir)
            _ = try await hub.store.append([try personEvent(hub, id: "1", data: ["name": "张三"])])
            try hub.database.put(Keys.rebuildMarker, [1])
            hub.close()
        }
        #expect(throws: StoreError.self) { try Hub(directory: dir) }
        let (db, config) = try Hub.openDatabase(directory: dir, configPath: nil)
        try Rebuilder.rebuild(from: db, into: db, configuration: config)
        db.close()
        let hub = try Hub(directory: dir)
        defer { hub.close() }
        #expect(try hub.reader.state(of: Subject(kind: .person, id: "11010519491231002X"))?.golden("name")?.value == "张三")
    }
}

/// The configuration is decoded beside the store's opening; what the caller sees is as if
/// it were decoded first.
@Suite struct OpenDatabaseTests {
    @Test func aBadConfigurationIsReportedAndTheStoreReleased() throws {
        let dir = tempDir()
        let bad = dir + "-bad.yaml"
        try "version: 2\n".write(toFile: bad, atomically: true, encoding: .utf8)
        #expect(throws: ConfigurationError.self) { try Hub.openDatabase(directory: dir, configPath: bad) }
        #expect(throws: ConfigurationError.self) { try Hub.openDatabase(directory: dir, configPath: dir + "-missing.yaml") }
        // Not copied into the directory, and the store is free to open again.
        #expect(!FileManager.default.fileExists(atPath: dir + "/config.yaml"))
        let (db, config) = try Hub.openDatabase(directory: dir, configPath: nil)
        #expect(config.verificationLimits.claimsPerMinute == Configuration.default.verificationLimits.claimsPerMinute)
        // Held by this process: the bad configuration is still what a second open reports.
        #expect(throws: ConfigurationError.self) { try Hub.openDatabase(directory: dir, configPath: bad) }
        db.close()
    }

    @Test func aGivenConfigurationIsUsedAndKeptForTheNextOpen() throws {
        let dir = tempDir()
        let path = dir + "-given.yaml"
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let text = try String(contentsOf: root.appendingPathComponent("config/yidang.default.yaml"), encoding: .utf8)
            .replacingOccurrences(of: "claimsPerMinute: 60", with: "claimsPerMinute: 7")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        #expect(Configuration.default.verificationLimits.claimsPerMinute == 60)
        let (db, config) = try Hub.openDatabase(directory: dir, configPath: path)
        #expect(config.verificationLimits.claimsPerMinute == 7)
        db.close()
        let (again, kept) = try Hub.openDatabase(directory: dir, configPath: nil)
        #expect(kept.verificationLimits.claimsPerMinute == 7)
        again.close()
    }
}

@Suite struct BulkLoadingTests {
    /// Events of every kind: disagreeing departments (a conflict), an agreement that closes
    /// it, a retraction, a link, and repeats of (source, id) within and across groups.
    static func events(_ hub: Hub) throws -> [[Event]] {
        func event(_ id: String, _ source: String, _ type: String, _ subject: String, _ data: JSONValue) throws -> Event {
            try hub.validator.validate(["specversion": "1.0", "id": .string(id), "source": .string(source), "type": .string(type),
                                        "subject": .string(subject), "time": "2026-11-20T08:00:00+08:00", "data": data],
                                       now: EventStore.now())
        }
        let person = "person/11010519491231002X", other = "person/360426199101010071"
        let enterprise = "enterprise/91310115MA1K3BTP2B"
        let first = [
            try event("g1", "gongan", "person.updated", person, ["name": "张三", "householdAddress": "宁波市海曙区1号"]),
            try event("r1", "renshe", "person.updated", person, ["householdAddress": "宁波市江北区2号", "phone": "13800000001"]),
            try event("s1", "scjg", "enterprise.updated", enterprise, ["name": "宁波天一贸易有限公司", "legalRepresentative": "11010519491231002X"]),
            try event("g1", "gongan", "person.updated", person, ["householdAddress": "宁波市海曙区1号", "name": "张三"]),   // repeat in the group
        ]
        let second = [
            try event("g2", "gongan", "person.updated", other, ["name": "李四"]),
            try event("r2", "renshe", "person.updated", person, ["householdAddress": "宁波市海曙区1号"]),   // agrees: closes it
            try event("r1", "renshe", "person.updated", person, ["householdAddress": "宁波市江北区2号", "phone": "13800000001"]),   // repeat across groups
        ]
        let third = [
            try event("r3", "renshe", "person.retracted", person, ["attributes": ["phone"]]),
            try event("w1", "weijian", "person.updated", other, ["name": "李四", "phone": "13700000000"]),
            try event("g2", "gongan", "person.updated", other, ["name": "李五"]),   // the id re-used with other content
        ]
        return [first, second, third]
    }

    /// Everything in the store, key by key.
    /// Every key and value of `db`, with the subject index listed one position an entry: a
    /// load that held the index (HeldLogIndexes) writes a subject's positions as one run,
    /// groups as one run each, and both mean the same index.
    static func contents(_ db: Database) throws -> [([UInt8], [UInt8])] {
        var out: [([UInt8], [UInt8])] = []
        try db.scan(from: [], to: [0xFF, 0xFF]) { k, v in
            if k.first == Keys.subjectIndex, let subject = Keys.subject(ofIndexKey: k) {
                for p in try SubjectRun.positions(key: k, value: v) { out.append((Keys.subjectKey(subject, p), [])) }
            } else {
                out.append((k, v))
            }
            return true
        }
        return out.sorted { $0.0.lexicographicallyPrecedes($1.0) }
    }

    /// Groups committed as ingested table files leave the store byte for byte as write
    /// batches do (the same clock), answer each append the same, and leave no files behind.
    @Test func tableFilesWriteWhatWriteBatchesWrite() async throws {
        let hub = try Hub(directory: tempDir())   // for its validator
        defer { hub.close() }
        let groups = try Self.events(hub)
        var stores: [(Database, [[AppendResult]])] = []
        for bulk in [false, true] {
            let db = try Database(path: tempDir() + "/db")
            let store = try EventStore(database: db, configuration: .default, clock: { 1_790_000_000_000_000 })
            if bulk { try await store.setBulkLoading(true) }
            let tickets = groups.map { store.submit($0) }
            var results: [[AppendResult]] = []
            for t in tickets { results.append(try await t.results) }
            // Table files skip the memtable; write batches go nowhere else (nothing flushed yet).
            let inFiles = Int(try db.property("rocksdb.live-sst-files-size") ?? "") ?? -1
            let inMemtable = Int(try db.property("rocksdb.num-entries-active-mem-table") ?? "") ?? -1
            #expect(bulk ? inFiles > 0 && inMemtable == 0 : inFiles == 0 && inMemtable > 20,
                    "bulk \(bulk): \(inFiles) bytes in table files, \(inMemtable) entries in the memtable")
            if bulk {
                try await store.setBulkLoading(false)
                #expect(!FileManager.default.fileExists(atPath: db.path + ".groups"))
            }
            stores.append((db, results))
        }
        #expect(stores[0].1 == stores[1].1)
        #expect(stores[1].1[0] == [.accepted(position: 1), .accepted(position: 2), .accepted(position: 3), .duplicate(position: 1)])
        #expect(stores[1].1[1][2] == .duplicate(position: 2))
        guard case .rejected(let reused) = stores[1].1[2][2] else { Issue.record("\(stores[1].1[2][2])"); return }
        #expect(reused.code == .idReused && reused.originalPosition == 4 && reused.field == "id")
        let batches = try Self.contents(stores[0].0), files = try Self.contents(stores[1].0)
        #expect(batches.count > 20)
        #expect(batches.map(\.0) == files.map(\.0))
        #expect(batches.map(\.1) == files.map(\.1))
        let report = try Verifier.verify(database: stores[1].0, configuration: .default, scratchDirectory: tempDir())
        #expect(report.isConsistent, "\(report.mismatches)")
    }

    /// A registry snapshot's shape (three departments send 40 people, most of them in every
    /// department's registry, in groups of 8, through a cache of 16 records): records are
    /// written when they pause, let go by the cache, read back when they come back, and
    /// written at the end. The store is byte for byte what write batches leave.
    @Test func aSnapshotThroughASmallCacheWritesWhatWriteBatchesWrite() async throws {
        let hub = try Hub(directory: tempDir())   // for its validator
        defer { hub.close() }
        let people = (0..<40).map { CitizenID.make(region: "110105", birth: "19800101", sequence: $0) }
        var events: [Event] = []
        for (d, source) in ["gongan", "renshe", "weijian"].enumerated() {
            for (i, id) in people.enumerated() where !(i % 5 == 0 && d > 0) && !(i % 5 == 1 && d < 2) {
                let data: JSONValue = d == 1 && i % 3 == 0 ? ["name": .string("名\(i)"), "phone": .string("1380000\(1000 + i)")]
                    : ["name": .string(d == 2 && i % 4 == 0 ? "别名\(i)" : "名\(i)")]
                events.append(try personEvent(hub, id: "\(source)-\(i)", source: source, subject: id, data: data))
            }
        }
        let groups = stride(from: 0, to: events.count, by: 8).map { Array(events[$0..<min($0 + 8, events.count)]) }
        var stores: [Database] = []
        for bulk in [false, true] {
            let db = try Database(path: tempDir() + "/db")
            let store = try EventStore(database: db, configuration: .default, clock: { 1_790_000_000_000_000 }, projectionCacheLimit: 16)
            if bulk { try await store.setBulkLoading(true) }
            for group in groups { _ = try await store.append(group) }
            if bulk { try await store.setBulkLoading(false) }
            stores.append(db)
        }
        let batches = try Self.contents(stores[0]), files = try Self.contents(stores[1])
        #expect(batches.filter { $0.0.first == Keys.golden }.count == 40)
        #expect(batches.map(\.0) == files.map(\.0))
        let differing = zip(batches, files).filter { $0.1 != $1.1 }.map { Verifier.describe($0.0.0) }
        #expect(differing.isEmpty, "\(differing.count) values differ: \(differing.prefix(5))")
        let report = try Verifier.verify(database: stores[1], configuration: .default, scratchDirectory: tempDir())
        #expect(report.isConsistent, "\(report.mismatches)")
    }

    /// A snapshot whose every subject the cache holds (the import's count says they fit):
    /// no record is written when its subject pauses, each is written once at the end, in
    /// files of golden records alone, one run of keys per core, that RocksDB ingests into the
    /// last level (no stored key falls in their ranges), so the merge that ends the load never
    /// reads them. The store is byte for byte what write batches leave. No file of level 0
    /// reaches into their key range, so the merge that ends the load starts before they are
    /// written; it leaves nothing in level 0, as it does after a load that did not hold them.
    @Test func aSnapshotHeldWholeWritesItsRecordsOnceBelowLevelZero() async throws {
        let hub = try Hub(directory: tempDir())   // for its validator
        defer { hub.close() }
        let people = (0..<60).map { CitizenID.make(region: "110105", birth: "19800101", sequence: $0) }
        var events: [Event] = []
        for source in ["gongan", "renshe", "weijian"] {
            for (i, id) in people.enumerated() {
                events.append(try personEvent(hub, id: "\(source)-\(i)", source: source, subject: id,
                                              data: ["name": .string("名\(i)"), "phone": .string("13\(source.count)000\(1000 + i)")]))
            }
        }
        let groups = stride(from: 0, to: events.count, by: 8).map { Array(events[$0..<min($0 + 8, events.count)]) }
        var stores: [Database] = []
        // Written with batches; loaded holding every subject; loaded without (records written
        // at pauses and dealt in turn at the end).
        for (bulk, held) in [(false, false), (true, true), (true, false)] {
            let db = try Database(path: tempDir() + "/db")
            let store = try EventStore(database: db, configuration: .default, clock: { 1_790_000_000_000_000 })
            if bulk {
                try await store.setBulkLoading(true)
                if held { await store.holdSubjects(people.count) }
            }
            for group in groups { _ = try await store.append(group) }
            if bulk && held {
                // What lets the merge start first.
                #expect(try EventStore.levelZeroSpares(from: [Keys.golden], to: [Keys.golden + 1], database: db))
                #expect(try EventStore.levelZeroSpares(from: [Keys.subjectIndex], to: [Keys.idempotency + 1], database: db))
            }
            if bulk {
                var early = 0, indexed = 0
                try db.scan(from: [Keys.golden], to: [Keys.golden + 1]) { _, _ in early += 1; return true }
                #expect((early == 0) == held, "a held load writes no record before the end")
                // A load into an empty store holds the log's indexes, whether it holds its subjects or not.
                try db.scan(from: [Keys.subjectIndex], to: [Keys.idempotency + 1]) { _, _ in indexed += 1; return true }
                #expect(indexed == 0, "\(indexed) index entries written before the end")
                #expect(try db.get(Keys.lateGoldenRecordsMarker) == Keys.loadMarkerHeldIndexes)
                try await store.setBulkLoading(false)
                try await store.settle()
                // The closing merge left nothing behind in level 0, whether it started before
                // the records were written (held) or after.
                let levelZero = try db.liveTableFiles().filter { $0.level == 0 }
                #expect(levelZero.isEmpty, "held \(held): \(levelZero.map(\.name)) left in level 0")
                #expect(try Self.contents(db).map(\.0) == (try Self.contents(stores[0])).map(\.0))
            }
            stores.append(db)
        }
        let goldenFiles = try stores[1].liveTableFiles().filter { $0.smallestKey.first == Keys.golden || $0.largestKey.first == Keys.golden }
        #expect(!goldenFiles.isEmpty)
        for file in goldenFiles {
            #expect(file.smallestKey.first == Keys.golden && file.largestKey.first == Keys.golden && file.level == 6,
                    "\(file.name) at level \(file.level) holds \(file.smallestKey.first ?? 0)…\(file.largestKey.first ?? 0)")
        }
        #expect(goldenFiles.reduce(0) { $0 + $1.entries } == UInt64(people.count), "each record written once")
        // The log's indexes: one run per subject and one key per event, in files of their own
        // in the last level.
        let indexFiles = try stores[1].liveTableFiles().filter { $0.smallestKey.first! <= Keys.idempotency && $0.largestKey.first! >= Keys.subjectIndex }
        #expect(!indexFiles.isEmpty)
        for file in indexFiles {
            #expect(file.smallestKey.first! >= Keys.subjectIndex && file.largestKey.first! <= Keys.idempotency && file.level == 6,
                    "\(file.name) at level \(file.level) holds \(file.smallestKey.first ?? 0)…\(file.largestKey.first ?? 0)")
        }
        #expect(indexFiles.reduce(0) { $0 + $1.entries } == UInt64(people.count + events.count), "each entry written once")
        let batches = try Self.contents(stores[0]), files = try Self.contents(stores[1])
        #expect(batches.filter { $0.0.first == Keys.golden }.count == people.count)
        #expect(batches.map(\.0) == files.map(\.0))
        let differing = zip(batches, files).filter { $0.1 != $1.1 }.map { Verifier.describe($0.0.0) }
        #expect(differing.isEmpty, "\(differing.count) values differ: \(differing.prefix(5))")
        let report = try Verifier.verify(database: stores[1], configuration: .default, scratchDirectory: tempDir())
        #expect(report.isConsistent, "\(report.mismatches)")
    }

    /// Level 0 spares a key range when none of its files' ranges reaches into it; files of
    /// other levels do not count.
    @Test func levelZeroSparesARangeNoneOfItsFilesReachesInto() throws {
        let db = try Database(path: tempDir() + "/db")
        func spares() throws -> Bool { try EventStore.levelZeroSpares(from: [0x10], to: [0x11], database: db) }
        #expect(try spares())
        try db.put([0x10, 5], [1], sync: false)
        try db.flush()
        #expect(!(try spares()), "a file inside the range")
        try db.compactAll()
        #expect(try spares(), "below level 0")
        for (low, high): ([UInt8], [UInt8]) in [([0x02], [0x0F, 0xFF]), ([0x11], [0x20]), ([0x02], [0x10]), ([0x10, 0xFF, 0xFF], [0x12])] {
            let b = WriteBatch()
            b.put(low, [1]); b.put(high, [1])
            try db.write(b, sync: false)
            try db.flush()
            let reaches = high.lexicographicallyPrecedes([0x10]) == false && low.lexicographicallyPrecedes([0x11])
            #expect(try spares() == !reaches, "a file of \(low)…\(high)")
            try db.compactAll()
        }
        db.close()
    }

    /// A bulk load writes golden records late: while it runs, a record that changes group
    /// after group stays in the cache (the store holds the load's marker, not the record),
    /// and ending the load writes it and removes the marker. A writer will not start on a
    /// directory a load left so (a `Hub` rebuilds it first: CrashTests), and a failed commit
    /// meanwhile stops the writer for good instead of reloading the caches, which hold the
    /// only copy of those records.
    @Test func aLoadWritesGoldenRecordsLateAndEndsByWritingThem() async throws {
        let hub = try Hub(directory: tempDir())   // for its validator
        defer { hub.close() }
        let subject = Subject(kind: .person, id: "11010519491231002X")
        let path = tempDir() + "/db"
        var db = try Database(path: path)
        var store = try EventStore(database: db, configuration: .default)
        try await store.setBulkLoading(true)
        #expect(try db.get(Keys.lateGoldenRecordsMarker) == nil, "no group committed yet")
        for round in 0..<3 {
            let e = try personEvent(hub, id: "l\(round)", source: ["gongan", "renshe", "weijian"][round],
                                    data: ["phone": .string("1380000000\(round)")])
            #expect(try await store.append([e]) == [.accepted(position: UInt64(round + 1))])
            #expect(try db.get(Keys.goldenKey(subject)) == nil)
            #expect(try db.get(Keys.lateGoldenRecordsMarker) != nil)
        }
        try await store.setBulkLoading(false)
        #expect(try db.get(Keys.lateGoldenRecordsMarker) == nil)
        let written = try SubjectState(encoded: try #require(try db.get(Keys.goldenKey(subject))))
        #expect(written.eventCount == 3)
        let report = try Verifier.verify(database: db, configuration: .default, scratchDirectory: tempDir())
        #expect(report.isConsistent, "\(report.mismatches)")

        // Left by a load that stopped: the writer refuses the directory, verify says why.
        try await store.setBulkLoading(true)
        _ = try await store.append([try personEvent(hub, id: "l3", data: ["name": "张三"])])
        db.close()
        db = try Database(path: path)
        #expect(throws: StoreError.self) { _ = try EventStore(database: db, configuration: .default) }
        let behind = try Verifier.verify(database: db, configuration: .default, scratchDirectory: tempDir())
        #expect(behind.mismatches.first?.contains("an import has not written its golden records") == true, "\(behind.mismatches)")
        try Rebuilder.rebuild(from: db, into: db, configuration: .default)
        #expect(try db.get(Keys.lateGoldenRecordsMarker) == nil)
        store = try EventStore(database: db, configuration: .default)
        #expect(try SubjectState(encoded: try #require(try db.get(Keys.goldenKey(subject)))).eventCount == 4)

        // A failed commit while loading: the writer stays failed.
        try await store.setBulkLoading(true)
        _ = try await store.append([try personEvent(hub, id: "l4", data: ["name": "李四"])])
        db.close()
        await #expect(throws: (any Error).self) { _ = try await store.append([try personEvent(hub, id: "l5", data: ["name": "王五"])]) }
        #expect(store.failure?.contains("reopen the store") == true, "\(store.failure ?? "nil")")
    }

    /// A load into an empty store holds the log's indexes (HeldLogIndexes) up to its limit and
    /// writes them at its end; past the limit, groups write their own. Released (its records
    /// will not all be held), it puts what it holds into its next group and holds no more.
    /// Either way repeats of held and of written events are found (a duplicate names the
    /// first position, other content is refused), and the store means what write batches leave.
    @Test(arguments: [4, 1 << 19]) func aFreshLoadHoldsTheLogsIndexesUpToItsLimit(limit: Int) async throws {
        let hub = try Hub(directory: tempDir())   // for its validator
        defer { hub.close() }
        let people = (0..<20).map { CitizenID.make(region: "110105", birth: "19800101", sequence: $0) }
        var events: [Event] = []
        for source in ["gongan", "renshe"] {
            for (i, id) in people.enumerated() {
                events.append(try personEvent(hub, id: "\(source)-\(i)", source: source, subject: id, data: ["name": .string("名\(i)")]))
            }
        }
        var groups = stride(from: 0, to: events.count, by: 6).map { Array(events[$0..<min($0 + 6, events.count)]) }
        groups.append([events[0], events[events.count - 1],
                       try personEvent(hub, id: "gongan-1", source: "gongan", subject: people[1], data: ["name": "别名"])])
        var results: [[[AppendResult]]] = []
        var stores: [Database] = []
        for (bulk, released) in [(false, false), (true, false), (true, true)] {
            let db = try Database(path: tempDir() + "/db")
            let store = try EventStore(database: db, configuration: .default, clock: { 1_790_000_000_000_000 }, heldIndexLimit: limit)
            if bulk { try await store.setBulkLoading(true) }
            var out: [[AppendResult]] = []
            for (n, group) in groups.enumerated() {
                if released && n == 2 { await store.writeLogIndexesWithGroups() }
                out.append(try await store.append(group))
            }
            if bulk {
                var written = 0
                try db.scan(from: [Keys.idempotency], to: [Keys.idempotency + 1]) { _, _ in written += 1; return true }
                let expected = released ? events.count : max(0, events.count - limit)
                #expect(written == expected, "limit \(limit), released \(released): \(written) keys written before the end")
                try await store.setBulkLoading(false)
            }
            results.append(out)
            stores.append(db)
        }
        #expect(results[0] == results[1] && results[0] == results[2])
        let repeats = try #require(results[1].last)
        #expect(Array(repeats.prefix(2)) == [.duplicate(position: 1), .duplicate(position: UInt64(events.count))])
        guard case .rejected(let reused) = repeats[2] else { Issue.record("\(repeats[2])"); return }
        #expect(reused.code == .idReused && reused.originalPosition == 2)
        let batches = try Self.contents(stores[0])
        for db in stores.dropFirst() {
            let files = try Self.contents(db)
            #expect(batches.map(\.0) == files.map(\.0))
            #expect(batches.map(\.1) == files.map(\.1))
            let report = try Verifier.verify(database: db, configuration: .default, scratchDirectory: tempDir())
            #expect(report.isConsistent, "\(report.mismatches)")
        }
    }

    /// Two people and six events, alternating between them (`e-0` … `e-5`, gongan's).
    private func sixEventsOfTwoPeople(_ hub: Hub) throws -> (people: [String], events: [Event]) {
        let people = (0..<2).map { CitizenID.make(region: "110105", birth: "19800101", sequence: $0) }
        let events = try (0..<6).map { n in
            try personEvent(hub, id: "e-\(n)", subject: people[n % 2], data: ["name": .string("名\(n)")])
        }
        return (people, events)
    }

    /// A load into an empty store that stops before its end has written neither of the log's
    /// indexes; its marker says so, and the rebuild writes both from the log before the
    /// replay reads them. The writer then finds repeats through them.
    @Test func aLoadThatStopsBeforeItsEndLeavesItsIndexesToTheRebuild() async throws {
        let hub = try Hub(directory: tempDir())   // for its validator
        defer { hub.close() }
        let (people, events) = try sixEventsOfTwoPeople(hub)
        let path = tempDir() + "/db"
        var db = try Database(path: path)
        let store = try EventStore(database: db, configuration: .default)
        try await store.setBulkLoading(true)
        for pair in stride(from: 0, to: 6, by: 2) { _ = try await store.append(Array(events[pair..<pair + 2])) }
        db.close()
        db = try Database(path: path)
        defer { db.close() }
        #expect(try db.get(Keys.lateGoldenRecordsMarker) == Keys.loadMarkerHeldIndexes)
        var reader = StoreReader(database: db, configuration: .default)
        #expect(try reader.positions(of: Subject(kind: .person, id: people[0])).isEmpty)
        #expect(try reader.position(source: "gongan", id: "e-0") == nil)

        try Rebuilder.rebuild(from: db, into: db, configuration: .default)
        #expect(try db.get(Keys.lateGoldenRecordsMarker) == nil)
        reader = StoreReader(database: db, configuration: .default)
        #expect(try reader.positions(of: Subject(kind: .person, id: people[0])) == [1, 3, 5])
        #expect(try reader.positions(of: Subject(kind: .person, id: people[1])) == [2, 4, 6])
        #expect(try reader.position(source: "gongan", id: "e-4") == 5)
        let report = try Verifier.verify(database: db, configuration: .default, scratchDirectory: tempDir())
        #expect(report.isConsistent, "\(report.mismatches)")
        let reopened = try EventStore(database: db, configuration: .default)
        #expect(try await reopened.append([events[0]]) == [.duplicate(position: 1)])
    }

    /// A load's group is ingested column family by column family, the default family (its
    /// indexes) first: a stop between the two leaves the group's idempotency keys and subject
    /// index entries without its log entries. The load's marker is stored by then, and the
    /// rebuild it calls for writes the indexes again from the log whatever the marker's value
    /// (here a load into a store that held events already, whose indexes were not held): the
    /// events of the lost group are new again, not duplicates of positions the log lacks.
    @Test func aLoadStoppedBetweenAGroupsIngestsLeavesNoIndexWithoutItsEvent() async throws {
        let hub = try Hub(directory: tempDir())   // for its validator
        defer { hub.close() }
        let (people, events) = try sixEventsOfTwoPeople(hub)
        let path = tempDir() + "/db"
        var options = DatabaseOptions()
        options.keyFamilies = Keys.families
        var db = try Database(path: path, options: options)
        let store = try EventStore(database: db, configuration: .default)
        _ = try await store.append(Array(events[0..<2]))
        try await store.setBulkLoading(true)
        _ = try await store.append(Array(events[2..<4]))
        _ = try await store.append(Array(events[4..<6]))
        // The last group's log entries never ingested: its indexes were.
        let lost = WriteBatch()
        for p: UInt64 in [5, 6] { lost.delete(Keys.logKey(p)) }
        try db.write(lost, sync: true)
        db.close()
        db = try Database(path: path, options: options)
        defer { db.close() }
        #expect(try db.get(Keys.lateGoldenRecordsMarker) == [1])
        #expect(try StoreReader(database: db, configuration: .default).position(source: "gongan", id: "e-4") == 5)

        try Rebuilder.rebuild(from: db, into: db, configuration: .default)
        let reader = StoreReader(database: db, configuration: .default)
        #expect(try reader.headPosition() == 4)
        #expect(try reader.position(source: "gongan", id: "e-4") == nil)
        #expect(try reader.positions(of: Subject(kind: .person, id: people[0])) == [1, 3])
        let report = try Verifier.verify(database: db, configuration: .default, scratchDirectory: tempDir())
        #expect(report.isConsistent, "\(report.mismatches)")
        let reopened = try EventStore(database: db, configuration: .default)
        #expect(try await reopened.append([events[4]]) == [.accepted(position: 5)])
        #expect(try await reopened.append([events[2]]) == [.duplicate(position: 3)])
    }

    /// An unmerge during a load into an empty store refolds the record from the events the
    /// load's held subject index lists: the record keeps its own department's values and
    /// gives back the other's, as a replay of the log does.
    @Test func anUnmergeDuringAFreshLoadRefoldsFromTheHeldIndex() async throws {
        let hub = try Hub(directory: tempDir())
        defer { hub.close() }
        try await hub.store.setBulkLoading(true)
        let li = "110101199003077774"
        let person: JSONValue = ["name": "李四", "gender": "2", "birthDate": "1990-03-07", "phone": "13900000000"]
        _ = try await hub.store.append([try personEvent(hub, id: "g-1", subject: li, data: person)])
        let local: JSONValue = ["name": "李四", "gender": "2", "birthDate": "1990-03-07", "phone": "13900000000", "education": "硕士"]
        _ = try await hub.store.append([try personEvent(hub, id: "j-1", source: "jiaoyu", subject: "local/K-1", data: local)])
        let crosswalk = Crosswalk(kind: .person, source: "jiaoyu", key: "K-1")
        let d = IdentityDecision(action: .unmerge, into: Subject.hub(kind: .person, number: 0), record: crosswalk.subject, actor: "s", note: nil)
        let unmerge = Steward.event(type: d.eventType, subject: d.into, data: ["source": "jiaoyu", "key": "K-1", "steward": "s"],
                                    body: .identity(d), now: EventStore.now())
        #expect(try await hub.store.append([unmerge], isolated: true).first?.position != nil)
        try await hub.store.setBulkLoading(false)
        let record = try #require(try hub.reader.state(of: Subject(kind: .person, id: li)))
        #expect(record.goldenText("name") == "李四" && record.goldenText("education") == nil)
        let report = try Verifier.verify(database: hub.database, configuration: hub.configuration, scratchDirectory: tempDir())
        #expect(report.isConsistent, "\(report.mismatches)")
    }

    /// Ending a load whose waiting golden records cannot be written stops the writer for
    /// good: the caches no longer hold them as waiting, and the store's lag the log.
    @Test func aLoadWhoseRecordsCannotBeWrittenStopsTheWriter() async throws {
        let hub = try Hub(directory: tempDir())   // for its validator
        defer { hub.close() }
        let db = try Database(path: tempDir() + "/db")
        let store = try EventStore(database: db, configuration: .default)
        try await store.setBulkLoading(true)
        _ = try await store.append([try personEvent(hub, id: "a", data: ["name": "张三"])])
        #expect(store.failure == nil)
        db.close()
        await #expect(throws: (any Error).self) { try await store.setBulkLoading(false) }
        #expect(store.failure?.contains("writing a bulk load's golden records failed") == true, "\(store.failure ?? "nil")")
    }

    /// A load into an empty store keeps its own identities and the subjects it changed in
    /// memory filters and looks up only what they may hold: repeats of events whose groups
    /// have long been durable are still duplicates, and records that left a tiny cache are
    /// read back. Such a load, a load into a store that was not empty (which looks every key
    /// up) and plain appends answer alike and leave the same store.
    @Test func loadsIntoAnEmptyStoreFindRepeatsAndRecordsOfDurableGroups() async throws {
        let hub = try Hub(directory: tempDir())   // for its validator
        defer { hub.close() }
        let shared = ["11010519491231002X", "360426199101010071", "44011320141005001X"]
        var rounds: [[Event]] = []
        for round in 0..<12 {
            var events: [Event] = []
            // Each shared subject sits out every third round: its record leaves the cache.
            for (i, s) in shared.enumerated() where (round + i) % 3 != 0 {
                events.append(try personEvent(hub, id: "s\(round)-\(i)", source: round % 2 == 0 ? "gongan" : "renshe", subject: s,
                                              time: "2026-11-\(10 + round % 9)T08:00:00+08:00",
                                              data: ["phone": .string("1380000\(String(format: "%04d", round * 7 + i))")]))
            }
            // New subjects push the shared ones out of the cache between rounds.
            for k in 0..<4 {
                events.append(try personEvent(hub, id: "u\(round)-\(k)", subject: CitizenID.make(region: "330203", birth: String(format: "198001%02d", 1 + k), sequence: round),
                                              data: ["name": .string("甲\(round)")]))
            }
            // Repeats of events three rounds back, whose groups are durable by now.
            if round >= 3 { events += rounds[round - 3].prefix(2 + round % 3) }
            rounds.append(events)
        }
        var stores: [(Database, [[AppendResult]])] = []
        for mode in ["plain", "empty", "notEmpty"] {
            let db = try Database(path: tempDir() + "/db")
            let store = try EventStore(database: db, configuration: .default, clock: { 1_790_000_000_000_000 }, projectionCacheLimit: 6)
            var results: [[AppendResult]] = []
            for (n, events) in rounds.enumerated() {
                if n == (mode == "empty" ? 0 : 1), mode != "plain" { try await store.setBulkLoading(true) }
                results.append(try await store.append(events))
            }
            if mode != "plain" { try await store.setBulkLoading(false) }
            stores.append((db, results))
        }
        #expect(stores[0].1.joined().filter { if case .duplicate = $0 { return true } else { return false } }.count == 27)
        let plain = try BulkLoadingTests.contents(stores[0].0)
        for (db, results) in stores.dropFirst() {
            #expect(results == stores[0].1)
            let contents = try BulkLoadingTests.contents(db)
            #expect(contents.map(\.0) == plain.map(\.0))
            #expect(contents.map(\.1) == plain.map(\.1))
            let report = try Verifier.verify(database: db, configuration: .default, scratchDirectory: tempDir())
            #expect(report.isConsistent, "\(report.mismatches)")
        }
    }
}

@Suite struct WriterFailureTests {
    /// A commit fails and the writer cannot reload its state from disk either (the database
    /// is gone): it stops accepting events for good and says why, instead of writing a
    /// projection that may disagree with the log.
    @Test func aWriterThatCannotRecoverStaysFailed() async throws {
        let db = try Database(path: tempDir() + "/db")
        let store = try EventStore(database: db, configuration: .default)
        let hub = try Hub(directory: tempDir())   // for its validator
        defer { hub.close() }
        #expect(try await store.append([try personEvent(hub, id: "a", data: ["name": "张三"])]) == [.accepted(position: 1)])
        #expect(store.failure == nil)
        db.close()
        await #expect(throws: (any Error).self) { try await store.append([try personEvent(hub, id: "b", data: ["name": "李四"])]) }
        #expect(store.failure != nil)
        await #expect(throws: (any Error).self) { try await store.append([try personEvent(hub, id: "c", data: ["name": "王五"])]) }
        #expect(TestLogging.contains("commit failed", labelPrefix: "yidang.store"))   // reported, not swallowed
    }
}
