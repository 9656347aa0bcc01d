import Synchronization

/// A one-shot result that many tasks may await. Completing twice is ignored.
final class Promise<Value: Sendable>: Sendable {
    private enum State {
        case pending([CheckedContinuation<Value, any Error>])
        case done(Result<Value, any Error>)
    }
    private let state = Mutex<State>(.pending([]))

    init() {}

    func complete(_ result: Result<Value, any Error>) {
        let waiters: [CheckedContinuation<Value, any Error>] = state.withLock { s in
            guard case .pending(let w) = s else { return [] }
            s = .done(result)
            return w
        }
        for w in waiters { w.resume(with: result) }
    }

    var value: Value {
        get async throws {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<Value, any Error>) in
                let ready: Result<Value, any Error>? = state.withLock { s in
                    switch s {
                    case .pending(var w): w.append(c); s = .pending(w); return nil
                    case .done(let r): return r
                    }
                }
                if let ready { c.resume(with: ready) }
            }
        }
    }
}
