import AsyncHTTPClient
import Foundation
import JSON
import Logging
import Metrics
import Synchronization

/// Delivery settings for pushed subscriptions.
public struct DeliveryOptions: Sendable {
    /// Changes per message.
    public var batchSize = 100
    /// Consecutive failures before a subscription is paused.
    public var maxFailures = 8
    public var initialBackoff: Duration = .milliseconds(200)
    public var maxBackoff: Duration = .seconds(60)
    /// How long a webhook receiver may take to answer.
    public var requestTimeout: Duration = .seconds(10)
    public init() {}
}

/// Pushes each pushed subscription's changes (webhooks today; any ``DeliveryTransport``)
/// in order, through the ``ChangeFeedReader``.
///
/// Guarantees: at-least-once and in order; the cursor advances only after the transport
/// delivered; a failed message is retried unchanged (same id, same body) with exponential
/// backoff and jitter (honouring `Retry-After`), and changes that arrive meanwhile go in the
/// next message; after ``DeliveryOptions/maxFailures`` in a row the subscription is paused,
/// and it resumes from its cursor when re-enabled. Nothing is ever skipped. Each change's
/// CloudEvent `id` (position and view) lets a receiver drop the changes it already has when
/// a message is rebuilt after a hub restart.
public final class PushDispatcher: Sendable {
    let feed: ChangeFeedReader
    let options: DeliveryOptions
    let client: HTTPClient
    let logger: Logger
    let metrics: SyncMetrics
    /// Whether this node is to push now (on a cluster node: while it holds the lease).
    let gate: @Sendable () -> Bool

    /// - Parameter gate: on a cluster, one node pushes at a time: `gate` says whether it is
    ///   this one; loops end when it turns false and start again when it turns true, from
    ///   the replicated cursors.
    public init(feed: ChangeFeedReader, options: DeliveryOptions = DeliveryOptions(), metrics: SyncMetrics,
                logger: Logger = Logger(label: "yidang.delivery"), gate: @escaping @Sendable () -> Bool = { true }) {
        self.gate = gate
        self.feed = feed
        self.options = options
        self.client = HTTPClient(eventLoopGroupProvider: .singleton)
        self.logger = logger
        self.metrics = metrics
    }

    var subscriptions: SubscriptionStore { feed.subscriptions }
    var signal: ChangeFeedSignal { feed.signal }

    /// The transport that carries `s`'s changes, or nil for a subscription the subscriber
    /// pulls. A new transport (NATS) is a new case here, not a new loop.
    func transport(for s: Subscription) -> (any DeliveryTransport)? {
        switch s.delivery {
        case .pull: return nil
        case .webhook(let hook): return WebhookTransport(client: client, hook: hook, subscription: s.id, timeout: options.requestTimeout)
        }
    }

    /// Runs until cancelled or the feed closes: one delivery loop per pushed subscription,
    /// started and stopped as subscriptions come and go.
    public func run() async {
        let running = RunningSet()
        await withTaskGroup(of: Void.self) { group in
            while !Task.isCancelled && !signal.isClosed {
                for s in subscriptions.list() where gate() && s.delivery != .pull && s.status == .active && running.insert(s.id) {
                    group.addTask {
                        // A loop ends when its subscription is paused or deleted; forgetting it
                        // here lets a resumed subscription start a fresh loop.
                        defer { running.remove(s.id) }
                        await self.deliver(s.id)
                    }
                }
                // New pushed subscriptions are looked for four times a second. Woken by every
                // commit as well, this loop cost each publish a timer task, a listing of the
                // subscriptions and the thread wake-ups of both.
                try? await Task.sleep(for: .milliseconds(250))   // cancelled: the loop ends
            }
            group.cancelAll()
        }
        // Shutting down with requests still open reports them; they were already cancelled.
        try? await client.shutdown()
    }

    /// One subscription's loop: page, deliver, advance, wait for new changes.
    func deliver(_ id: String) async {
        var backoff = options.initialBackoff
        var pending: DeliveryMessage?
        while !Task.isCancelled && !signal.isClosed {
            guard gate(), let s = subscriptions.get(id), s.status == .active, let transport = transport(for: s) else { return }
            let message: DeliveryMessage
            if let pending { message = pending } else {
                guard let (items, scannedTo) = await page(for: s) else { continue }
                if items.isEmpty {
                    if scannedTo > s.cursor { await persist(id) { $0.cursor = max($0.cursor, scannedTo) } }
                    metrics.lag(id, head: signal.head, cursor: max(scannedTo, s.cursor))
                    if scannedTo >= signal.head { _ = await feed.waitForChanges(after: scannedTo, timeout: .seconds(5)) }
                    continue
                }
                message = DeliveryMessage(subscription: s.id, changes: items, scannedTo: scannedTo)
            }
            pending = message
            do {
                try await transport.deliver(message)
                pending = nil
                backoff = options.initialBackoff
                await persist(id) { $0.cursor = max($0.cursor, message.scannedTo); $0.failures = 0; $0.lastError = nil; $0.deliveries += UInt64(message.changes.count) }
                metrics.delivered(id, count: message.changes.count)
                metrics.lag(id, head: signal.head, cursor: message.scannedTo)
            } catch {
                metrics.failed(id)
                let updated = await persist(id) { sub in
                    sub.failures += 1
                    sub.lastError = error.reason
                    if sub.failures >= options.maxFailures { sub.status = .paused }
                }
                if updated?.status == .paused {
                    metrics.paused(id)
                    logger.warning("subscription \(id) paused after \(updated?.failures ?? 0) failed deliveries: \(error.reason)")
                    return
                }
                let wait = error.retryAfter ?? backoff * Double.random(in: 0.5...1.5)
                // A cancelled sleep ends the loop at its next check.
                try? await Task.sleep(for: wait)
                backoff = min(backoff * 2, options.maxBackoff)
            }
        }
    }

    /// The next visible changes after the cursor, and the position scanned up to; nil when
    /// the feed could not be read (logged, counted, and waited out with a backoff).
    func page(for s: Subscription) async -> ([JSONValue], UInt64)? {
        do {
            return try feed.page(for: s, after: s.cursor, limit: options.batchSize)
        } catch {
            metrics.stateFailure(s.id, operation: "read")
            logger.error("subscription \(s.id): reading the change feed after \(s.cursor) failed: \(error)")
            // A cancelled sleep ends the loop at its next check.
            try? await Task.sleep(for: options.maxBackoff / 10)
            return nil
        }
    }

    /// Writes a subscription's delivery state (cursor, failures, status). A failed write is
    /// logged, counted (`yidang_subscription_state_failures_total`) and retried with backoff
    /// until it lands or the dispatcher stops: a cursor left behind would re-send changes,
    /// and a lost failure count would hide an outage from the operators.
    @discardableResult
    func persist(_ id: String, _ change: (inout Subscription) -> Void) async -> Subscription? {
        var wait = options.initialBackoff
        while true {
            do {
                return try await subscriptions.update(id, change)
            } catch {
                metrics.stateFailure(id, operation: "write")
                logger.error("subscription \(id): writing its delivery state failed, retrying in \(wait): \(error)")
                if Task.isCancelled || signal.isClosed { return nil }
                try? await Task.sleep(for: wait)   // a cancelled sleep ends the loop above
                wait = min(wait * 2, options.maxBackoff)
            }
        }
    }
}

/// Per-subscription sync metrics (`yidang_subscription_*`).
public struct SyncMetrics: Sendable {
    let factory: any MetricsFactory
    public init(factory: any MetricsFactory) { self.factory = factory }
    func lag(_ id: String, head: UInt64, cursor: UInt64) {
        Gauge(label: "yidang_subscription_lag", dimensions: [("subscription", id)], factory: factory).record(Double(head &- min(head, cursor)))
    }
    func delivered(_ id: String, count: Int) {
        Counter(label: "yidang_subscription_deliveries_total", dimensions: [("subscription", id)], factory: factory).increment(by: count)
    }
    func failed(_ id: String) {
        Counter(label: "yidang_subscription_failures_total", dimensions: [("subscription", id)], factory: factory).increment()
    }
    func stateFailure(_ id: String, operation: String) {
        Counter(label: "yidang_subscription_state_failures_total", dimensions: [("subscription", id), ("operation", operation)],
                factory: factory).increment()
    }
    func paused(_ id: String) {
        Counter(label: "yidang_subscription_pauses_total", dimensions: [("subscription", id)], factory: factory).increment()
    }
}

/// The subscription ids with a delivery loop.
final class RunningSet: Sendable {
    private let ids = Mutex<Set<String>>([])
    /// Inserts `id`; false when it was already there.
    func insert(_ id: String) -> Bool { ids.withLock { $0.insert(id).inserted } }
    func remove(_ id: String) { _ = ids.withLock { $0.remove(id) } }
}
