import AsyncHTTPClient
import Crypto
import Foundation
import JSON
import Logging
import Metrics
import Synchronization
import NIOCore
import NIOHTTP1
import YidangModel
import YidangProjection
import YidangStore

/// Delivery settings for webhooks.
public struct WebhookOptions: Sendable {
    /// Changes per POST.
    public var batchSize = 100
    /// Consecutive failures before a subscription is paused.
    public var maxFailures = 8
    public var initialBackoff: Duration = .milliseconds(200)
    public var maxBackoff: Duration = .seconds(60)
    public var requestTimeout: Duration = .seconds(10)
    public init() {}
}

/// Pushes each webhook subscription's changes in order, signed per Standard Webhooks.
///
/// Guarantees: at-least-once and in order; the cursor advances only after a 2xx; failures
/// are retried with exponential backoff and jitter (honouring `Retry-After`); after
/// ``WebhookOptions/maxFailures`` in a row the subscription is paused, and it resumes from
/// its cursor when re-enabled. Nothing is ever skipped.
///
/// A message is a JSON array of change CloudEvents (`application/cloudevents-batch+json`).
/// Its `webhook-id` is derived from its body, and a failed message is retried unchanged, so
/// a receiver that drops repeated ids (as Standard Webhooks asks) never drops a change it
/// has not seen. Each change's CloudEvent `id` (position and view) lets a receiver also
/// drop the changes it already has when a message is re-sent after a hub restart.
public final class WebhookDispatcher: Sendable {
    let reader: StoreReader
    let subscriptions: SubscriptionStore
    let signal: ChangeFeedSignal
    let view: ChangeView
    let options: WebhookOptions
    let client: HTTPClient
    let logger: Logger
    let metrics: SyncMetrics

    public init(reader: StoreReader, subscriptions: SubscriptionStore, signal: ChangeFeedSignal, options: WebhookOptions = WebhookOptions(),
                metrics: SyncMetrics, logger: Logger = Logger(label: "yidang.webhooks")) {
        self.reader = reader
        self.subscriptions = subscriptions
        self.signal = signal
        self.view = ChangeView(configuration: reader.configuration)
        self.options = options
        self.client = HTTPClient(eventLoopGroupProvider: .singleton)
        self.logger = logger
        self.metrics = metrics
    }

    /// Runs until cancelled or the signal closes: one delivery loop per webhook subscription,
    /// started and stopped as subscriptions come and go.
    public func run() async {
        let running = RunningSet()
        await withTaskGroup(of: Void.self) { group in
            while !Task.isCancelled && !signal.isClosed {
                for s in subscriptions.list() where s.webhook != nil && s.status == .active && running.insert(s.id) {
                    group.addTask {
                        // A loop ends when its subscription is paused or deleted; forgetting it
                        // here lets a resumed subscription start a fresh loop.
                        defer { running.remove(s.id) }
                        await self.deliver(s.id)
                    }
                }
                _ = await signal.wait(after: signal.head, timeout: .milliseconds(250))
            }
            group.cancelAll()
        }
        // Shutting down with requests still open reports them; they were already cancelled.
        try? await client.shutdown()
    }

    /// One webhook message: a batch of changes, its body and its id, kept unchanged until
    /// it is answered with a 2xx.
    struct Message {
        let id: String
        let body: [UInt8]
        let count: Int
        /// The change position scanned up to: the cursor once it is delivered.
        let scannedTo: UInt64

        /// Standard Webhooks receivers drop a `webhook-id` they have seen, so an id names one
        /// body and only that body: it is derived from the body's bytes.
        init(subscription: String, items: [JSONValue], scannedTo: UInt64) {
            body = JSONWriter.bytes(.array(items))
            let digest = SHA256.hash(data: body).prefix(16).map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
            id = "msg_\(subscription)_\(digest)"
            count = items.count
            self.scannedTo = scannedTo
        }
    }

    /// One subscription's loop: deliver, advance, wait for new changes. A message that fails
    /// is retried as it was (same id, same body) until it succeeds or the subscription pauses;
    /// changes that arrive meanwhile go in the next message.
    func deliver(_ id: String) async {
        var backoff = options.initialBackoff
        var pending: Message?
        while !Task.isCancelled && !signal.isClosed {
            guard let s = subscriptions.get(id), s.status == .active, let hook = s.webhook else { return }
            let message: Message
            if let pending { message = pending } else {
                guard let (items, scannedTo) = await page(for: s) else { continue }
                if items.isEmpty {
                    if scannedTo > s.cursor { await persist(id) { $0.cursor = scannedTo } }
                    metrics.lag(id, head: signal.head, cursor: max(scannedTo, s.cursor))
                    if scannedTo >= signal.head { _ = await signal.wait(after: scannedTo, timeout: .seconds(5)) }
                    continue
                }
                message = Message(subscription: s.id, items: items, scannedTo: scannedTo)
            }
            pending = message
            let scannedTo = message.scannedTo
            let result = await post(hook, subscription: s.id, id: message.id, body: message.body)
            switch result {
            case .success:
                pending = nil
                backoff = options.initialBackoff
                await persist(id) { $0.cursor = scannedTo; $0.failures = 0; $0.lastError = nil; $0.deliveries += UInt64(message.count) }
                metrics.delivered(id, count: message.count)
                metrics.lag(id, head: signal.head, cursor: scannedTo)
            case .failure(let reason, let retryAfter):
                metrics.failed(id)
                let updated = await persist(id) { sub in
                    sub.failures += 1
                    sub.lastError = reason
                    if sub.failures >= options.maxFailures { sub.status = .paused }
                }
                if updated?.status == .paused {
                    metrics.paused(id)
                    logger.warning("webhook subscription \(id) paused after \(updated?.failures ?? 0) failures: \(reason)")
                    return
                }
                let jitter = Double.random(in: 0.5...1.5)
                let wait = retryAfter ?? backoff * jitter
                // A cancelled sleep ends the loop at its next check.
                try? await Task.sleep(for: wait)
                backoff = min(backoff * 2, options.maxBackoff)
            }
        }
    }

    enum Outcome { case success, failure(String, Duration?) }

    func post(_ hook: Subscription.Webhook, subscription: String, id: String, body: [UInt8]) async -> Outcome {
        guard let signer = WebhookSigner(secret: hook.secret) else { return .failure("bad secret", nil) }
        let timestamp = Int(Date().timeIntervalSince1970)
        var request = HTTPClientRequest(url: hook.url)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/cloudevents-batch+json")
        request.headers.add(name: "yidang-subscription", value: subscription)
        request.headers.add(name: "webhook-id", value: id)
        request.headers.add(name: "webhook-timestamp", value: String(timestamp))
        request.headers.add(name: "webhook-signature", value: signer.signature(id: id, timestamp: timestamp, body: body))
        request.body = .bytes(ByteBuffer(bytes: body))
        do {
            let response = try await client.execute(request, timeout: .milliseconds(Int64(options.requestTimeout / .milliseconds(1))))
            // The receiver's answer body is not read, only drained; a failure to drain it
            // changes nothing about the status already received.
            _ = try? await response.body.collect(upTo: 1 << 16)
            if (200..<300).contains(Int(response.status.code)) { return .success }
            let retryAfter = response.headers.first(name: "retry-after").flatMap { Int($0) }.map { Duration.seconds($0) }
            return .failure("HTTP \(response.status.code)", retryAfter)
        } catch {
            return .failure("\(error)", nil)
        }
    }

    /// The next visible changes after the cursor, and the position scanned up to; nil when
    /// the feed could not be read (logged, counted, and waited out with a backoff).
    func page(for s: Subscription) async -> ([JSONValue], UInt64)? {
        do {
            return try view.page(reader, for: s, after: s.cursor, limit: options.batchSize)
        } catch {
            metrics.stateFailure(s.id, operation: "read")
            logger.error("webhook subscription \(s.id): reading the change feed after \(s.cursor) failed: \(error)")
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
                return try subscriptions.update(id, change)
            } catch {
                metrics.stateFailure(id, operation: "write")
                logger.error("webhook subscription \(id): writing its delivery state failed, retrying in \(wait): \(error)")
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
