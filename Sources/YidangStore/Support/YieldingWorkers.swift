import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Threads of their own that run work at a lower scheduling priority than the rest of the
/// process: they take whatever CPU the other threads leave.
///
/// A bulk load is a pipeline whose slowest stage is serial (the writer's fold), beside a
/// stage that parallelizes (validation). On a machine with few cores, validation at equal
/// priority took its share of the cores from the fold, ran ahead of it, and left the fold
/// alone with a backlog at the end while the other cores idled. At a lower priority, it
/// runs when the fold and the commit leave a core free, and at full speed whenever the
/// fold waits for it, so the fold is never starved for long.
///
/// The niceness is set per thread (Linux keeps it per thread); other threads are untouched.
/// The threads hold the pool until ``shutdown()``, which the owner must call.
final class YieldingWorkers: @unchecked Sendable {
    private struct Task {
        let job: Job
        let index: Int
    }

    /// One call of ``run(_:_:)``: its body and how many of its parts are left.
    private final class Job: @unchecked Sendable {
        let body: @Sendable (Int) -> Void
        /// Guarded by the pool's condition.
        var remaining: Int
        let done: CheckedContinuation<Void, Never>
        init(parts: Int, body: @escaping @Sendable (Int) -> Void, done: CheckedContinuation<Void, Never>) {
            self.body = body
            self.remaining = parts
            self.done = done
        }
    }

    private let condition = NSCondition()
    /// Guarded by `condition`.
    private var queue: [Task] = []
    private var stopping = false
    let count: Int

    /// Starts `count` threads at `niceness` (0–19; higher runs less when others want the CPU).
    init(count: Int, niceness: Int32) {
        self.count = max(1, count)
        for n in 0..<self.count {
            let thread = Thread { [self] in
                Thread.current.name = "yidang-worker-\(n)"
                #if canImport(Glibc)
                // Failure leaves the thread at the process's priority: slower, never wrong.
                _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, niceness)
                #endif
                work()
            }
            thread.start()
        }
    }

    /// Runs `body(0)`, `body(1)` … `body(parts - 1)` on the workers and returns when all have
    /// returned. The caller's thread is not blocked while it waits.
    func run(_ parts: Int, _ body: @escaping @Sendable (Int) -> Void) async {
        guard parts > 0 else { return }
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            let job = Job(parts: parts, body: body, done: done)
            condition.lock()
            for i in 0..<parts { queue.append(Task(job: job, index: i)) }
            condition.broadcast()
            condition.unlock()
        }
    }

    /// Lets the threads finish the work queued and end.
    func shutdown() {
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
    }

    private func work() {
        while true {
            condition.lock()
            while queue.isEmpty && !stopping { condition.wait() }
            if queue.isEmpty {
                condition.unlock()
                return
            }
            let task = queue.removeFirst()
            condition.unlock()
            task.job.body(task.index)
            condition.lock()
            task.job.remaining -= 1
            let finished = task.job.remaining == 0
            condition.unlock()
            if finished { task.job.done.resume() }
        }
    }
}
