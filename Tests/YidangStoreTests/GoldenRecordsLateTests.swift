import Identifiers
import JSON
import Testing
import YidangModel
import YidangProjection
@testable import YidangStore

/// A store in memory that records what a replay's policy drafts and drops.
private final class DraftLog: WriteSink {
    var values: [[UInt8]: [UInt8]] = [:]
    var drafted: [(subject: String, number: Int)] = []
    var dropped: [Int] = []
    func put(_ key: [UInt8], _ value: [UInt8]) { values[key] = value }
    func delete(_ key: [UInt8]) { values[key] = nil }
    func draftGolden(_ state: SubjectState, number: Int) { drafted.append((state.subject.id, number)) }
    func dropDraft(_ number: Int) { dropped.append(number) }
}

/// Folds event number `n` (a new name for person `id`, at position `n`) into `writer`.
private func fold<P>(_ hub: Hub, _ n: Int, person id: String, into writer: ProjectionWriter<P>, _ sink: DraftLog) throws {
    var event = try personEvent(hub, id: "e\(n)", subject: id, data: ["name": .string("名\(n)")])
    event.position = UInt64(n)
    try writer.apply(event, into: sink)
}

@Suite struct GoldenRecordsLateTests {
    /// The live writer keeps the blocking entries of groups not yet durable, for the matcher
    /// to find; a replay matches nothing and learns of no durable group before its end, so
    /// it keeps none (kept, the whole log's entries stayed in memory to the end).
    @Test func onlyTheLiveWriterKeepsRecentBlockingEntries() throws {
        let hub = try Hub(directory: tempDir())
        defer { hub.close() }
        let live = try LiveProjectionWriter(configuration: hub.configuration) { _ in nil }
        let replay = try ReplayProjectionWriter(configuration: hub.configuration) { _ in nil }
        #expect(live.identity.keepsRecentEntries)
        #expect(!replay.identity.keepsRecentEntries)
    }

    /// A record is drafted once a batch passes without changing it. One that changes after
    /// its draft (a subject each department's snapshot brings back) has the draft dropped and
    /// is not drafted again: it is encoded once, when it leaves the cache or at the end.
    @Test func aRecordThatChangesAfterItsDraftIsNotDraftedAgain() throws {
        let hub = try Hub(directory: tempDir())
        defer { hub.close() }
        let a = "11010519491231002X", b = "360426199101010071", c = "44011320141005001X"
        let writer = try ReplayProjectionWriter(configuration: hub.configuration, cacheLimit: 1_000) { _ in nil }
        let sink = DraftLog()
        var n = 0
        let batches: [[String]] = [[a], [b], [a], [c], [a], []]
        for subjects in batches {
            for subject in subjects {
                n += 1
                try fold(hub, n, person: subject, into: writer, sink)
            }
            writer.finishBatch(into: sink)
            writer.committed()
        }
        // A after batch 2, B after 3; A's draft goes stale in batch 3 and is dropped after 4;
        // C is drafted after 5; A, quiet again after 6, is not.
        #expect(sink.drafted.map(\.subject) == [a, b, c])
        #expect(sink.drafted.map(\.number) == [0, 1, 2])
        #expect(sink.dropped == [0])
        let unwritten = writer.takeUnwrittenStates()
        #expect(unwritten.first { $0.state.subject.id == a }?.draft == nil)
        #expect(unwritten.first { $0.state.subject.id == b }?.draft == 1)
    }

    /// A replay whose cache holds every subject of its log drafts nothing: no record leaves
    /// before the end, where every record left is encoded on every core.
    @Test func aReplayThatHoldsEverySubjectDraftsNothing() throws {
        let hub = try Hub(directory: tempDir())
        defer { hub.close() }
        let a = "11010519491231002X", b = "360426199101010071", c = "44011320141005001X"
        // Three generations of three subjects fit under a ceiling of nine.
        let writer = try ReplayProjectionWriter(configuration: hub.configuration, cacheLimit: 3, cacheCeiling: 9) { _ in nil }
        #expect(writer.holdEverySubject(of: 3))
        let sink = DraftLog()
        var n = 0
        for subjects in [[a], [b], [a], [c], [a], []] {
            for subject in subjects {
                n += 1
                try fold(hub, n, person: subject, into: writer, sink)
            }
            writer.finishBatch(into: sink)
            writer.committed()
        }
        #expect(sink.drafted.isEmpty && sink.dropped.isEmpty)
        // Every record is still cached, unwritten, with its last state.
        let unwritten = writer.takeUnwrittenStates()
        #expect(Set(unwritten.map(\.state.subject.id)) == [a, b, c])
        #expect(unwritten.allSatisfy { $0.draft == nil })
        #expect(unwritten.first { $0.state.subject.id == a }?.state.eventCount == 3)
        // Taken, not copied: the cache is left empty states, written, and gives nothing again.
        #expect(writer.takeUnwrittenStates().isEmpty)
        #expect(writer.subjects.count == 3)
        var left: [UInt64] = []
        writer.subjects.forEachCurrent { left.append($0.state.eventCount) }
        #expect(left == [0, 0, 0])
    }

    /// The replay's subject cache grows while the records it lets go come back (each department
    /// sending its registry in turn), up to its ceiling, and keeps its size on a log whose
    /// subjects' events stay together.
    @Test func theCacheGrowsOnlyWhileRecordsItLetGoComeBack() throws {
        let hub = try Hub(directory: tempDir())
        defer { hub.close() }
        func replay(_ order: [Int]) throws -> Int {
            let sink = DraftLog()
            let writer = try ReplayProjectionWriter(configuration: hub.configuration, cacheLimit: 30, cacheCeiling: 120) { sink.values[$0] }
            for (n, i) in order.enumerated() {
                try fold(hub, n + 1, person: CitizenID.make(region: "110105", birth: "19800101", sequence: i), into: writer, sink)
                if (n + 1) % 5 == 0 {
                    writer.finishBatch(into: sink)
                    writer.committed()
                }
            }
            return writer.subjects.generationSize
        }
        // Three passes over 60 subjects: a generation of 10 lets each go before it comes back.
        let passes = Array(repeating: Array(0..<60), count: 3).flatMap { $0 }
        #expect(try replay(passes) == 40)
        // 60 subjects with three events each, one after another: nothing comes back.
        #expect(try replay((0..<60).flatMap { [$0, $0, $0] }) == 10)
    }

    /// The live writer's cache grows only while a load lets it (``EventStore/setBulkLoading(_:)``)
    /// and the records it let go come back stored (read ahead by `prefetch`); it returns to its
    /// limit after.
    @Test func theLiveCacheGrowsDuringALoadAndShrinksAfter() throws {
        let hub = try Hub(directory: tempDir())
        defer { hub.close() }
        let store = DraftLog()
        let writer = try LiveProjectionWriter(configuration: hub.configuration, cacheLimit: 20) { store.values[$0] }
        var n = 0
        func pass(over ids: Range<Int>) throws {
            for start in stride(from: ids.lowerBound, to: ids.upperBound, by: 5) {
                let subjects = (start..<min(start + 5, ids.upperBound)).map { CitizenID.make(region: "110105", birth: "19800101", sequence: $0) }
                try writer.prefetch(subjects.map { Subject(kind: .person, id: $0) })
                for id in subjects {
                    n += 1
                    try fold(hub, n, person: id, into: writer, store)
                }
                writer.finishBatch(into: store)
                writer.committed()
            }
        }
        try pass(over: 0..<60)
        try pass(over: 0..<60)
        #expect(writer.subjects.generationSize == 10)       // no load: never grows
        writer.setCacheCeiling(80)
        try pass(over: 0..<60)
        try pass(over: 0..<60)
        #expect(writer.subjects.generationSize == 40)
        writer.setCacheCeiling(nil)
        #expect(writer.subjects.generationSize == 10)
        try pass(over: 60..<120)
        #expect(writer.subjects.count <= 20)
    }
}

/// Replays that draft records early must not write a draft a later change made stale, even
/// a change that folds no event into the record (a steward's decision: merge, reject,
/// unmerge sets who a record is, not what it holds).
@Suite struct ReplayDraftTests {
    /// A department's record sent to review becomes a golden record of its own, pauses (so a
    /// replay drafts it), and a steward confirms (a merge) or rejects the match at the log's
    /// end. Every replay, in batches of any size, must reproduce the decision: verify compares
    /// it with the store.
    @Test(arguments: [true, false]) func aDecisionAfterADraftIsReplayed(confirmed: Bool) async throws {
        let hub = try Hub(directory: tempDir())
        defer { hub.close() }
        let li = "110101199003077774"
        _ = try await hub.store.append([try personEvent(hub, id: "g-1", subject: li, data: [
            "name": "李四", "gender": "2", "birthDate": "1990-03-07", "phone": "13900000000"])])
        // Day and month swapped, no phone: uncertain, so a golden record of its own and a task.
        _ = try await hub.store.append([try personEvent(hub, id: "j-1", source: "jiaoyu", subject: "local/K-9", data: [
            "name": "李四", "gender": "2", "birthDate": "1990-07-03", "education": "硕士"])])
        let task = try #require(try hub.reader.matchTasks(status: .open, kind: .person).first)
        for n in 0..<6 {
            let id = CitizenID.make(region: "110105", birth: "19800101", sequence: n)
            _ = try await hub.store.append([try personEvent(hub, id: "f-\(n)", subject: id, data: ["name": .string("名\(n)")])])
        }
        if confirmed {
            _ = try await hub.confirmMatch(task.id, steward: "steward", note: nil)
        } else {
            _ = try await hub.rejectMatch(task.id, steward: "steward", note: nil)
        }
        let record = task.record
        func decided() throws -> Bool {
            guard let state = try hub.reader.state(of: record) else { return false }
            return confirmed ? state.mergedInto == task.candidate : state.identity?.distinct.contains(task.candidate) == true
        }
        #expect(try decided())
        for size in 2...5 {
            let report = try Verifier.verify(database: hub.database, configuration: hub.configuration, scratchDirectory: tempDir() + "-\(size)",
                                             batchSize: size, cacheLimit: 50_000, cacheCeiling: 200_000, changesPerFile: nil, progress: nil)
            #expect(report.isConsistent, "batches of \(size): \(report.mismatches)")
        }
        try Rebuilder.rebuild(from: hub.database, into: hub.database, configuration: hub.configuration, batchSize: 3)
        #expect(try decided())
    }
}

extension ReplayDraftTests {
    /// A seeded mix of what a city sends and what its stewards decide — registry updates,
    /// department records without an identifier (linked, new, sent to review), confirmed and
    /// rejected matches, unmerges — is reproduced by every replay: in batches of several
    /// sizes, with a cache that keeps everything and with one that lets records go every few
    /// subjects (drafts, records leaving the cache, records read back).
    @Test(arguments: [0x9E37_79B9_7F4A_7C15, 7, 2_026, 31_337, 12_345, 99, 4_242, 8_675_309] as [UInt64])
    func aMixOfRecordsAndDecisionsIsReplayedAtEveryBatchSize(seed start: UInt64) async throws {
        let hub = try Hub(directory: tempDir() + "-\(start)")
        defer { hub.close() }
        var seed = start
        func next(_ n: Int) -> Int {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return Int((seed >> 33) % UInt64(n))
        }
        let names = ["李四", "张三", "王芳", "赵伟", "陈静", "刘洋", "杨帆", "黄磊"]
        let births = ["1990-03-07", "1985-11-02", "1979-06-05", "1992-01-08", "1988-09-04", "1975-12-11", "1999-05-06", "1983-07-09"]
        let ids = (0..<names.count).map { CitizenID.make(region: "110105", birth: births[$0].replacingOccurrences(of: "-", with: ""), sequence: $0) }
        var n = 0
        func publish(_ source: String, _ subject: String, _ data: JSONValue) async throws {
            n += 1
            _ = try await hub.store.append([try personEvent(hub, id: "m-\(n)", source: source, subject: subject, data: data)])
        }
        for i in names.indices {
            try await publish("gongan", ids[i], ["name": .string(names[i]), "gender": "1", "birthDate": .string(births[i]),
                                                  "phone": .string("1390000000\(i)")])
        }
        var keys: [(source: String, key: String)] = []
        var decisions = 0, unmerges = 0
        for _ in 0..<120 {
            let i = next(names.count)
            switch next(10) {
            case 0, 1:
                try await publish(next(2) == 0 ? "gongan" : "renshe", ids[i], ["phone": .string("1380000\(String(format: "%04d", next(10_000)))")])
            case 2, 3, 4:
                // A department's record: the same phone (linked), a swapped date (review), or someone new.
                let source = next(2) == 0 ? "jiaoyu" : "tongji", key = "K-\(n)"
                keys.append((source, key))
                let d = births[i]
                let swapped = String(d.prefix(5)) + String(d.suffix(2)) + "-" + String(d.dropFirst(5).prefix(2))
                let data: JSONValue = switch next(4) {
                case 0: ["name": .string(names[i]), "birthDate": .string(d), "phone": .string("1390000000\(i)")]
                case 1, 2: ["name": .string(names[i]), "birthDate": .string(swapped), "education": "本科"]
                default: ["name": .string("新\(n)"), "birthDate": "2001-02-03"]
                }
                try await publish(source, "local/\(key)", data)
            case 5 where !keys.isEmpty:
                let k = keys[next(keys.count)]
                try await publish(k.source, "local/\(k.key)", ["education": .string(next(2) == 0 ? "硕士" : "博士")])
            case 6:
                if let t = try hub.reader.matchTasks(status: .open, kind: .person).first {
                    decisions += 1
                    _ = try? await (decisions % 2 == 0 ? hub.confirmMatch(t.id, steward: "s", note: nil) : hub.rejectMatch(t.id, steward: "s", note: nil))
                }
            case 7 where !keys.isEmpty:
                let k = keys[next(keys.count)]
                if (try? await hub.unmerge(Crosswalk(kind: .person, source: k.source, key: k.key), steward: "s", note: nil)) != nil { unmerges += 1 }
            default:
                try await publish("gongan", CitizenID.make(region: "330203", birth: "19800101", sequence: n), ["name": .string("填\(n)")])
            }
        }
        // The log ends with a steward's decision on records that have been quiet since.
        try await publish("gongan", CitizenID.make(region: "110105", birth: "19910203", sequence: 0), [
            "name": "欧阳终", "gender": "1", "birthDate": "1991-02-03", "phone": "13700000000"])
        for k in 0..<4 { try await publish("gongan", CitizenID.make(region: "330203", birth: "19800102", sequence: k), ["name": .string("末\(k)")]) }
        try await publish("jiaoyu", "local/LAST", ["name": "欧阳终", "gender": "1", "birthDate": "1991-03-02"])
        for k in 4..<8 { try await publish("gongan", CitizenID.make(region: "330203", birth: "19800102", sequence: k), ["name": .string("末\(k)")]) }
        let last = try #require(try hub.reader.matchTasks(status: .open, kind: .person).first)
        _ = try await hub.confirmMatch(last.id, steward: "s", note: nil)
        let tasks = try hub.reader.matchTasks(status: nil, kind: .person)
        #expect(tasks.contains { $0.status == .confirmed } && tasks.contains { $0.status == .rejected } && unmerges > 0)
        for (size, limit, ceiling) in [(2, 50_000, 200_000), (3, 50_000, 200_000), (5, 6, 48), (7, 6, 6), (4, 9, 200_000)] {
            let report = try Verifier.verify(database: hub.database, configuration: hub.configuration, scratchDirectory: tempDir() + "-\(start)-\(size)",
                                             batchSize: size, cacheLimit: limit, cacheCeiling: ceiling, changesPerFile: 7, progress: nil)
            #expect(report.isConsistent, "batches of \(size), cache \(limit)/\(ceiling): \(report.mismatches)")
        }
    }
}
