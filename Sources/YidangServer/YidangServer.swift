import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import YidangCluster
import YidangModel
import YidangStore
import YidangSync

/// Limits and listen address of the HTTP API.
public struct ServerOptions: Sendable {
    public var host = "127.0.0.1"
    public var port = 8080
    /// Largest request body accepted (413 beyond).
    public var maxBodyBytes = 16 << 20
    /// Most events in one request.
    public var maxBatchEvents = 10_000
    /// SSE keep-alive interval.
    public var keepAlive: Duration = .seconds(15)
    /// Webhook delivery settings.
    public var webhooks = DeliveryOptions()
    /// NATS servers to publish the change feed to as a JetStream stream (none: not published).
    public var changeStreamServers: [String] = []
    /// Replicas of that stream (3 on a three-server cluster).
    public var changeStreamReplicas = 1
    /// NATS servers where departments publish events (`yidang.events.<department>`, kept in
    /// the JetStream stream YIDANG_EVENTS); none: events come over HTTP only.
    public var eventStreamServers: [String] = []
    /// Replicas of that stream.
    public var eventStreamReplicas = 1
    /// A cluster node's replicated log (none: the embedded single node).
    public var cluster: ClusterSettings?
    /// The time tokens' expiry is judged by (microseconds since the epoch); tests move it.
    public var clock: @Sendable () -> Int64 = { Timestamp.now() }
    public init() {}
}

/// The HTTP API on Hummingbird 2 (`Schemas/openapi.yaml`).
public enum YidangServer {
    /// Every route the router serves, as `METHOD path` with `{param}` placeholders (the
    /// OpenAPI test checks them against `Schemas/openapi.yaml`).
    public static let routes: [String] = [
        "GET /healthz", "GET /readyz", "GET /metrics",
        "POST /v1/events",
        "GET /v1/persons/{id}", "GET /v1/enterprises/{uscc}", "GET /v1/persons/{id}/history", "GET /v1/enterprises/{uscc}/history",
        "GET /v1/conflicts", "GET /v1/conflicts/{id}", "POST /v1/conflicts/{id}/resolve", "GET /v1/quality",
        "POST /v1/tokens", "GET /v1/tokens", "DELETE /v1/tokens/{id}", "GET /v1/audit", "POST /v1/verify", "POST /v1/backup",
        "POST /v1/subscriptions", "GET /v1/subscriptions", "GET /v1/subscriptions/{id}", "DELETE /v1/subscriptions/{id}",
        "POST /v1/subscriptions/{id}/ack", "POST /v1/subscriptions/{id}/resume", "GET /v1/changes",
        "GET /v1/matches", "GET /v1/matches/{id}", "POST /v1/matches/{id}/confirm", "POST /v1/matches/{id}/reject",
        "POST /v1/merges", "POST /v1/unmerges", "GET /v1/crosswalks",
    ]

    /// Builds the application on an open hub.
    public static func application(hub: Hub, options: ServerOptions = ServerOptions(), metrics: HubMetrics = HubMetrics(),
                                   logger: Logger = Logger(label: "yidang.http"), audit: AuditTrail? = nil,
                                   onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws -> some ApplicationProtocol {
        await hub.store.setCommitObserver { metrics.commit($0) }
        let signal = ChangeFeedSignal(head: try hub.reader.changeHead())
        await hub.store.setChangeObserver { head in signal.publish(head) }
        let subscriptions = try SubscriptionStore(hub: hub)
        // One reader of the change feed for every way it leaves the hub (SSE, pages, pushes).
        let feed = ChangeFeedReader(reader: hub.reader, subscriptions: subscriptions, signal: signal,
                                    cache: FeedCache(head: { [signal] in signal.head }),
                                    ackPatience: options.cluster == nil ? .zero : .seconds(2))
        let tokens = TokenStore(database: hub.database)
        let audit = audit ?? AuditTrail(database: hub.database)
        // NATS first: what may fail to connect does so before anything that needs closing
        // (the webhook dispatcher's HTTP client) exists.
        var services: [any Service] = []
        var ledger: any TokenLedger = tokens
        var replica: ReplicatedLog?
        if let cluster = options.cluster {
            // Every write from here on goes through the stream; the node applies it first.
            let log = try ReplicatedLog(hub: hub, tokens: tokens, subscriptions: subscriptions, settings: cluster, logger: logger)
            hub.useSequencer(log)
            subscriptions.writeThrough(log)
            await hub.store.setSyncsCommits(false)
            ledger = log
            replica = log
            services.append(ReplicaService(log: log))
        }
        if !options.changeStreamServers.isEmpty {
            let stream = try JetStreamChangeFeed(servers: options.changeStreamServers, replicas: options.changeStreamReplicas,
                                                 reader: hub.reader, signal: signal, logger: logger)
            if let replica {
                // One node publishes the feed at a time (the others' copies would only be
                // dropped as repeats); another takes over when it stops.
                let lease = try replica.lease(named: "changes")
                await stream.setGate { lease.isHeld }
                services.append(LeaseService(lease: lease))
            }
            services.append(ChangeStreamService(feed: stream))
        }
        if !options.eventStreamServers.isEmpty {
            let ingress = try NATSIngress(servers: options.eventStreamServers, replicas: options.eventStreamReplicas, hub: hub,
                                          metrics: metrics, logger: logger)
            services.append(IngressService(ingress: ingress))
        }
        var pushGate: @Sendable () -> Bool = { true }
        if let replica {
            // Every node holds every subscription; one pushes them, another takes over.
            let lease = try replica.lease(named: "push")
            pushGate = { lease.isHeld }
            services.append(LeaseService(lease: lease))
        }
        let dispatcher = PushDispatcher(feed: feed, options: options.webhooks, metrics: SyncMetrics(factory: metrics.factory), logger: logger,
                                        gate: pushGate)
        services.insert(WebhookService(dispatcher: dispatcher, signal: signal), at: 0)
        let router = Router(context: YidangRequestContext.self, options: .autoGenerateHeadEndpoints)
        router.middlewares.add(MetricsMiddleware(metrics: metrics))
        router.middlewares.add(ProblemMiddleware())
        router.middlewares.add(HTTPConventionsMiddleware(routes: routes, maxBodyBytes: options.maxBodyBytes))
        var auth = AuthMiddleware(tokens: tokens, clock: options.clock)
        if let replica { auth.catchUp = { await replica.catchUp(patience: .seconds(2)) } }
        router.middlewares.add(auth)
        OperationsRoutes(hub: hub, metrics: metrics, tokens: tokens, ledger: ledger, replica: replica, audit: audit, subscriptions: subscriptions).register(on: router)
        EventRoutes(hub: hub, metrics: metrics, options: options).register(on: router)
        RecordRoutes(hub: hub, audit: audit).register(on: router)
        ConflictRoutes(hub: hub, audit: audit, options: options).register(on: router)
        VerificationRoutes(hub: hub, audit: audit, metrics: metrics).register(on: router)
        BackupRoutes(hub: hub, audit: audit).register(on: router)
        IdentityRoutes(hub: hub, audit: audit).register(on: router)
        SyncRoutes(hub: hub, feed: feed, audit: audit, keepAlive: options.keepAlive).register(on: router)
        return Application(
            router: router,
            configuration: .init(address: .hostname(options.host, port: options.port), serverName: "yidang"),
            services: services,
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? options.port) },
            logger: logger
        )
    }
}

/// Runs the webhook dispatcher beside the HTTP server; on graceful shutdown it closes the
/// change-feed signal, which also ends open SSE streams.
struct WebhookService: Service {
    let dispatcher: PushDispatcher
    let signal: ChangeFeedSignal
    func run() async throws {
        await withGracefulShutdownHandler {
            await dispatcher.run()
        } onGracefulShutdown: {
            signal.close()
        }
        // The loop also ends when an open long-poll or SSE stream closes the signal as the
        // HTTP server shuts down, which may come before this service's turn; a service group
        // takes a service that returns before its turn for one that failed.
        try? await gracefulShutdown()
    }
}

/// Publishes the change feed to JetStream beside the HTTP server; it stops when the
/// change-feed signal closes at graceful shutdown.
struct ChangeStreamService: Service {
    let feed: JetStreamChangeFeed
    func run() async throws {
        await cancelWhenGracefulShutdown { await feed.run() }
        await feed.close()
        try? await gracefulShutdown()   // as WebhookService: the signal may close before this turn
    }
}

/// Applies the replicated log to this node's store until graceful shutdown.
struct ReplicaService: Service {
    let log: ReplicatedLog
    func run() async throws {
        await cancelWhenGracefulShutdown { await log.run() }
        log.close()
    }
}

/// Claims and renews a cluster lease until graceful shutdown.
struct LeaseService: Service {
    let lease: ClusterLease
    func run() async throws {
        await cancelWhenGracefulShutdown { await lease.run() }
    }
}

/// Consumes the events departments publish over NATS beside the HTTP server, until
/// graceful shutdown.
struct IngressService: Service {
    let ingress: NATSIngress
    func run() async throws {
        await cancelWhenGracefulShutdown { await ingress.run() }
        await ingress.close()
    }
}
