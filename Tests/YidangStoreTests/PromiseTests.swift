import Foundation
import Testing
@testable import YidangStore

@Suite struct PromiseTests {
    struct Failed: Error, Equatable { let code: Int }

    /// Threads blocked in `wait()` and tasks awaiting `value` all get the one result, set later
    /// by another thread; a second completion changes nothing.
    @Test func waitersOnThreadsAndTasksGetTheFirstResult() async throws {
        let promise = Promise<[String]>()
        let blocked = 3
        let results = ResultBox()
        let gone = DispatchGroup()
        for _ in 0..<blocked {
            gone.enter()
            Thread.detachNewThread {
                results.add(Result { try promise.wait() })
                gone.leave()
            }
        }
        async let awaited = promise.value
        // The blocked threads are still waiting: nothing is set yet.
        try await Task.sleep(for: .milliseconds(50))
        #expect(results.count == 0)
        Thread.detachNewThread { promise.complete(.success(["a", "b"])) }
        gone.wait()
        promise.complete(.success(["ignored"]))
        #expect(try await awaited == ["a", "b"])
        #expect(results.values.map { try? $0.get() } == Array(repeating: ["a", "b"], count: blocked))
        // Once set, a wait returns at once.
        #expect(try promise.wait() == ["a", "b"])
    }

    /// A promise completed with an error throws it from `wait()` and from `value`.
    @Test func anErrorIsThrownToEveryWaiter() async throws {
        let promise = Promise<Int>()
        promise.complete(.failure(Failed(code: 7)))
        #expect(throws: Failed(code: 7)) { try promise.wait() }
        await #expect(throws: Failed(code: 7)) { try await promise.value }
    }
}

/// Results gathered from several threads.
private final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private var gathered: [Result<[String], any Error>] = []
    func add(_ r: Result<[String], any Error>) { lock.lock(); gathered.append(r); lock.unlock() }
    var values: [Result<[String], any Error>] { lock.lock(); defer { lock.unlock() }; return gathered }
    var count: Int { values.count }
}
