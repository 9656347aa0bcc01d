import Foundation
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import YidangStore

/// What the parts saw, shared with the workers.
private final class Sightings: Sendable {
    let runs = Mutex<[Int: Int]>([:])
    let niceness = Mutex<Set<Int32>>([])
}

@Suite struct YieldingWorkersTests {
    /// Every part runs once, on a worker at the pool's niceness (the caller's is untouched),
    /// and `run` returns only after the last part has returned; calls from several tasks
    /// at once each get their own parts.
    @Test func runsEachPartOnceOnNicedThreadsAndWaitsForAll() async throws {
        let workers = YieldingWorkers(count: 3, niceness: 1)
        defer { workers.shutdown() }
        let sightings = Sightings()
        let callerNiceness = getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)
        await withTaskGroup(of: Void.self) { group in
            for call in 0..<4 {
                group.addTask {
                    await workers.run(50) { part in
                        sightings.niceness.withLock { _ = $0.insert(getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)) }
                        sightings.runs.withLock { $0[call * 1000 + part, default: 0] += 1 }
                    }
                    // Everything of this call is done when run returns.
                    let done = sightings.runs.withLock { s in (0..<50).allSatisfy { s[call * 1000 + $0] == 1 } }
                    #expect(done)
                }
            }
        }
        #expect(sightings.runs.withLock { $0.count } == 200)
        #expect(sightings.runs.withLock { $0.values.allSatisfy { $0 == 1 } })
        #expect(sightings.niceness.withLock { $0 } == [1])
        #expect(getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0) == callerNiceness)
        await workers.run(0) { _ in Issue.record("no parts, no calls") }
    }
}
