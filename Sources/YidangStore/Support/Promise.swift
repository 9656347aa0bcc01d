import Dispatch
import Synchronization

/// A one-shot result that many tasks may await, or threads wait for. Completing twice is
/// ignored.
final class Promise<Value: Sendable>: Sendable {
    private enum State {
        /// The tasks awaiting the result, and the threads blocked on it.
        case pending([CheckedContinuation<Value, any Error>], [DispatchSemaphore])
        case done(Result<Value, any Error>)
    }
    private let state = Mutex<State>(.pending([], []))

    init() {}

    /// A promise completed from the start.
    convenience init(_ result: Result<Value, any Error>) {
        self.init()
        complete(result)
    }

    /// Sets the result and wakes every task and thread waiting for it.
    func complete(_ result: Result<Value, any Error>) {
        let (tasks, threads): ([CheckedContinuation<Value, any Error>], [DispatchSemaphore]) = state.withLock { s in
            guard case .pending(let tasks, let threads) = s else { return ([], []) }
            s = .done(result)
            return (tasks, threads)
        }
        for t in tasks { t.resume(with: result) }
        for t in threads { t.signal() }
    }

    /// The result if it is set, without waiting; nil while pending.
    var completed: Result<Value, any Error>? {
        state.withLock { s in if case .done(let r) = s { return r } else { return nil } }
    }

    /// The result, once it is set.
    /// - Throws: the error it was completed with.
    var value: Value {
        get async throws {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<Value, any Error>) in
                let ready: Result<Value, any Error>? = state.withLock { s in
                    switch s {
                    case .pending(var tasks, let threads): tasks.append(c); s = .pending(tasks, threads); return nil
                    case .done(let r): return r
                    }
                }
                if let ready { c.resume(with: ready) }
            }
        }
    }

    /// Blocks the calling thread until the result is set, and returns it. For synchronous
    /// code on a thread of its own; a task awaits ``value`` instead (blocking a thread of
    /// the cooperative pool can starve the task that completes the promise).
    /// - Throws: the error it was completed with.
    func wait() throws -> Value {
        let woken = DispatchSemaphore(value: 0)
        while true {
            let ready: Result<Value, any Error>? = state.withLock { s in
                switch s {
                case .pending(let tasks, var threads): threads.append(woken); s = .pending(tasks, threads); return nil
                case .done(let r): return r
                }
            }
            if let ready { return try ready.get() }
            woken.wait()
        }
    }
}
