import Synchronization

/// A sticky wake-up call for one waiting task: ``notify()`` wakes the task waiting in
/// ``wait()``, or, with none waiting, makes the next ``wait()`` return at once. Notices do
/// not count: several before a wait wake it once.
///
/// Lets a loop that waits for any of several things (work arriving, a write finishing) be
/// woken by whichever comes first, without losing one that comes between its last look
/// and its wait.
final class Wakeup: Sendable {
    private struct State {
        var noticed = false
        var waiter: CheckedContinuation<Void, Never>?
    }
    private let state = Mutex(State())

    init() {}

    /// Wakes the waiting task, or the next one to wait.
    func notify() {
        let waiter: CheckedContinuation<Void, Never>? = state.withLock { s in
            if let w = s.waiter { s.waiter = nil; return w }
            s.noticed = true
            return nil
        }
        waiter?.resume()
    }

    /// Whether ``notify()`` was called since the last ``wait()`` returned: the next wait
    /// would return at once.
    var isNoticed: Bool { state.withLock { $0.noticed } }

    /// Returns once ``notify()`` was called after the previous return. One task at a time.
    func wait() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now: Bool = state.withLock { s in
                if s.noticed { s.noticed = false; return true }
                precondition(s.waiter == nil, "Wakeup.wait() called by two tasks at once")
                s.waiter = c
                return false
            }
            if now { c.resume() }
        }
    }
}
