/// Where a cluster node's replicated log lives and how JetStream keeps it.
public struct ClusterSettings: Sendable {
    /// NATS servers (`nats://host:port`) of the JetStream cluster.
    public var servers: [String]
    /// This node's name (in logs, and on the entries it publishes).
    public var node: String
    /// Replicas of the log stream: 3 on a three-server cluster (a write is stored once a
    /// majority of them holds it); 1 for a single server.
    public var replicas = 3
    /// Memory instead of file storage: for tests and benchmarks only, since a whole-cluster
    /// restart then loses the log.
    public var memoryStorage = false
    public var stream = "YIDANG_LOG"
    public var subject = "yidang.log"
    /// How long JetStream remembers a `Nats-Msg-Id` to drop a repeat (a publisher's retry).
    public var duplicateWindowSeconds = 120
    /// Largest entry: a larger batch of events is split into entries of at most this size,
    /// below NATS's default 1 MiB payload limit.
    public var maxEntryBytes = 512 << 10
    /// Entries whose answers a node keeps for a publisher whose acknowledgement arrives after
    /// its entry was applied, or that repeats one.
    public var answersKept = 65_536

    public init(servers: [String], node: String) {
        self.servers = servers
        self.node = node
    }
}
