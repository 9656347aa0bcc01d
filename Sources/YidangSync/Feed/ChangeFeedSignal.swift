import Synchronization

/// Wakes change-feed readers as soon as a batch commits (no polling delay).
public final class ChangeFeedSignal: Sendable {
    private struct State {
        var head: UInt64 = 0
        var closed = false
        var waiters: [UInt64: CheckedContinuation<Bool, Never>] = [:]
        var nextWaiter: UInt64 = 0
        /// Waits not yet finished, and those among them whose timer fired before they parked.
        var active: Set<UInt64> = []
        var expired: Set<UInt64> = []
    }
    private let state = Mutex(State())

    public init(head: UInt64 = 0) { state.withLock { $0.head = head } }

    public var head: UInt64 { state.withLock { $0.head } }

    /// Records a new change head and wakes every waiter.
    public func publish(_ head: UInt64) {
        let waiters = state.withLock { s -> [CheckedContinuation<Bool, Never>] in
            guard head > s.head else { return [] }
            s.head = head
            defer { s.waiters.removeAll() }
            return Array(s.waiters.values)
        }
        for w in waiters { w.resume(returning: true) }
    }

    /// Stops all waits (shutdown); later waits return false at once.
    public func close() {
        let waiters = state.withLock { s -> [CheckedContinuation<Bool, Never>] in
            s.closed = true
            defer { s.waiters.removeAll() }
            return Array(s.waiters.values)
        }
        for w in waiters { w.resume(returning: false) }
    }

    public var isClosed: Bool { state.withLock { $0.closed } }

    /// Waits until the head passes `position`, or `timeout` elapses (false), or close (false).
    public func wait(after position: UInt64, timeout: Duration) async -> Bool {
        let id: UInt64 = state.withLock { s in s.nextWaiter += 1; s.active.insert(s.nextWaiter); return s.nextWaiter }
        defer { state.withLock { s in s.active.remove(id); s.expired.remove(id) } }
        let timer = Task {
            try? await Task.sleep(for: timeout)   // cancelled: the wait ended first
            self.expire(id)
        }
        defer { timer.cancel() }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Bool, Never>) in
                let immediate: Bool? = state.withLock { s in
                    if s.closed { return false }
                    if s.head > position { return true }
                    if s.expired.remove(id) != nil { return false }
                    s.waiters[id] = c
                    return nil
                }
                if let immediate { c.resume(returning: immediate) }
            }
        } onCancel: {
            self.expire(id)
        }
    }

    /// The timer of waiter `id` fired: release it, or mark it so it returns at once.
    private func expire(_ id: UInt64) {
        let parked = state.withLock { s -> CheckedContinuation<Bool, Never>? in
            if let c = s.waiters.removeValue(forKey: id) { return c }
            if s.active.contains(id) { s.expired.insert(id) }
            return nil
        }
        parked?.resume(returning: false)
    }
}
