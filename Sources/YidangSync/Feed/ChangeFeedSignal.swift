import Synchronization

/// Wakes change-feed readers as soon as a batch commits (no polling delay).
///
/// A wait's timeout is kept by one shared timer, not a timer task per wait: SSE streams and
/// the delivery loops wait once per commit, and a sleeping task per wait cost a task, a
/// timer armed on the dispatch manager thread and its cancellation, each waking threads.
/// The timer ticks every ``tick`` while anyone waits, so a wait times out up to a tick late.
public final class ChangeFeedSignal: Sendable {
    private struct Parked {
        let continuation: CheckedContinuation<Bool, Never>
        let deadline: ContinuousClock.Instant
    }
    private struct State {
        var head: UInt64 = 0
        var closed = false
        var waiters: [UInt64: Parked] = [:]
        var nextWaiter: UInt64 = 0
        /// Waits not yet finished, and those among them cancelled before they parked.
        var active: Set<UInt64> = []
        var cancelled: Set<UInt64> = []
        /// Whether the timer task runs (it ends when no one waits).
        var timing = false
    }
    private let state = Mutex(State())

    /// How often the shared timer looks for waits past their deadline.
    static let tick: Duration = .milliseconds(50)

    public init(head: UInt64 = 0) { state.withLock { $0.head = head } }

    public var head: UInt64 { state.withLock { $0.head } }

    /// Records a new change head and wakes every waiter.
    public func publish(_ head: UInt64) {
        let waiters = state.withLock { s -> [Parked] in
            guard head > s.head else { return [] }
            s.head = head
            defer { s.waiters.removeAll() }
            return Array(s.waiters.values)
        }
        for w in waiters { w.continuation.resume(returning: true) }
    }

    /// Stops all waits (shutdown); later waits return false at once.
    public func close() {
        let waiters = state.withLock { s -> [Parked] in
            s.closed = true
            defer { s.waiters.removeAll() }
            return Array(s.waiters.values)
        }
        for w in waiters { w.continuation.resume(returning: false) }
    }

    public var isClosed: Bool { state.withLock { $0.closed } }

    /// Waits until the head passes `position` (true), or `timeout` elapses (false, up to a
    /// ``tick`` late), or the signal closes or the task is cancelled (false).
    public func wait(after position: UInt64, timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        let id: UInt64 = state.withLock { s in s.nextWaiter += 1; s.active.insert(s.nextWaiter); return s.nextWaiter }
        defer { state.withLock { s in s.active.remove(id); s.cancelled.remove(id) } }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Bool, Never>) in
                let (immediate, startTimer): (Bool?, Bool) = state.withLock { s in
                    if s.closed { return (false, false) }
                    if s.head > position { return (true, false) }
                    if s.cancelled.remove(id) != nil { return (false, false) }
                    s.waiters[id] = Parked(continuation: c, deadline: deadline)
                    defer { s.timing = true }
                    return (nil, !s.timing)
                }
                if let immediate { c.resume(returning: immediate) }
                if startTimer { Task { await self.expireWaits() } }
            }
        } onCancel: {
            let parked = state.withLock { s -> Parked? in
                if let p = s.waiters.removeValue(forKey: id) { return p }
                if s.active.contains(id) { s.cancelled.insert(id) }
                return nil
            }
            parked?.continuation.resume(returning: false)
        }
    }

    /// The shared timer: every tick, releases the waits past their deadline; ends when no
    /// one waits (the next wait starts it again).
    private func expireWaits() async {
        while true {
            try? await Task.sleep(for: Self.tick)
            let now = ContinuousClock.now
            let (due, idle) = state.withLock { s -> ([Parked], Bool) in
                let ids = s.waiters.filter { $0.value.deadline <= now }.map(\.key)
                let due = ids.compactMap { s.waiters.removeValue(forKey: $0) }
                if s.waiters.isEmpty { s.timing = false }
                return (due, s.waiters.isEmpty)
            }
            for w in due { w.continuation.resume(returning: false) }
            if idle { return }
        }
    }
}
