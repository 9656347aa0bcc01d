import Foundation
import JSON
import Testing
import TestSupport
import YidangModel
@testable import YidangStore

/// A replica is the writer applying entries it did not order: the same entries give the
/// same store (digest) however the writer groups them, with the entries' own times, and
/// the store remembers the last entry it applied, even one that stored nothing.
@Suite struct ReplicaApplyTests {
    /// Entries: events of two subjects, a repeat with other content (refused by the fold),
    /// rejection counts (an effect), each stamped with its sequence and a fixed time.
    func entries(_ hub: Hub) throws -> [(events: [Event], effect: StoreEffect?, stamp: ReplicaStamp)] {
        var out: [(events: [Event], effect: StoreEffect?, stamp: ReplicaStamp)] = []
        var sequence: UInt64 = 0
        func stamp() -> ReplicaStamp { sequence += 1; return ReplicaStamp(sequence: sequence, time: 1_700_000_000_000_000 + Int64(sequence)) }
        for i in 0..<12 {
            let subject = i < 6 ? "11010519491231002X" : "110101199003074477"   // runs of six in one group
            out.append(([try personEvent(hub, id: "e\(i)", subject: subject, data: ["name": .string("名\(i)"), "phone": .string("1380000000\(i % 10)")])], nil, stamp()))
        }
        out.append(([try personEvent(hub, id: "e1", data: ["name": "改了"])], nil, stamp()))   // id-reused: nothing stored
        out.append(([], RejectionEffect.adding(["gongan": ["invalid-field": 2]]), stamp()))
        return out
    }

    @Test func theSameEntriesGiveTheSameStoreHoweverTheyAreGrouped() async throws {
        let together = try Hub(directory: tempDir("replica-together"))
        let oneByOne = try Hub(directory: tempDir("replica-one-by-one"))
        defer { together.close(); oneByOne.close() }
        // Submitted at once: the writer folds them in a few groups.
        let tickets = try entries(together).map { together.store.submit($0.events, stamp: $0.stamp, effect: $0.effect) }
        var first: [[AppendResult]] = []
        for t in tickets { first.append(try await t.results) }
        // Waiting for each: one group per entry.
        var second: [[AppendResult]] = []
        for e in try entries(oneByOne) { second.append(try await oneByOne.store.submit(e.events, stamp: e.stamp, effect: e.effect).results) }

        #expect(first == second)
        guard case .rejected(let r)? = first[12].first else { Issue.record("the repeat with other content was stored"); return }
        #expect(r.code == .idReused)
        #expect(try StoreDigest.compute(together.database) == StoreDigest.compute(oneByOne.database))
        // The last entry stored nothing but counts, and is still remembered as applied.
        #expect(try together.store.appliedSequence() == 14)
        #expect(try oneByOne.store.appliedSequence() == 14)
        // Folded with the entries' times, not the clock's.
        let stored = try #require(try together.reader.event(at: 1))
        #expect(stored.ingestTime == 1_700_000_000_000_001)
        // Grouping differs in the subject index, and the digest reads past it.
        #expect(try together.reader.history(of: stored.subject).count == 6)
    }
}
