import Foundation
import Synchronization
import Testing
@testable import YidangStore

@Suite struct WakeupTests {
    /// A notice given before the wait is kept: the wait returns at once. Several notices
    /// wake one wait, and the next wait sleeps until another notice, given by another thread.
    @Test func aNoticeIsKeptForTheNextWaitAndNoticesDoNotCount() async throws {
        let wakeup = Wakeup()
        wakeup.notify()
        wakeup.notify()
        await wakeup.wait()
        let woken = ThreadSafeFlag()
        async let second: Void = { await wakeup.wait(); woken.set() }()
        try await Task.sleep(for: .milliseconds(50))
        #expect(!woken.value, "the second wait returned on the notices before the first")
        Thread.detachNewThread { wakeup.notify() }
        await second
        #expect(woken.value)
    }

    /// A waiting task is resumed by a notice from a thread.
    @Test func aWaitingTaskIsResumedByANoticeFromAThread() async {
        let wakeup = Wakeup()
        Thread.detachNewThread {
            Thread.sleep(forTimeInterval: 0.02)
            wakeup.notify()
        }
        await wakeup.wait()
    }
}

/// A flag set by one task and read by another.
final class ThreadSafeFlag: Sendable {
    private let state = Mutex(false)
    func set() { state.withLock { $0 = true } }
    var value: Bool { state.withLock { $0 } }
}
