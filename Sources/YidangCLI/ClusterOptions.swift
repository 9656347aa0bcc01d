import ArgumentParser
import YidangCluster

/// Where a cluster's replicated log is (serve, tokens create).
struct ClusterOptions: ParsableArguments {
    @Option(name: .customLong("nats"),
            help: "NATS servers of the JetStream cluster (nats://host:port, comma-separated): run as a cluster node whose log is the replicated stream YIDANG_LOG.")
    var nats: String?
    @Option(name: .customLong("node"), help: "This node's name in a cluster (default: the host name and port).") var node: String?
    @Option(name: .customLong("log-replicas"), help: "Replicas of the log stream (3 on a three-server cluster, 1 on one server).")
    var logReplicas = 3
    @Option(name: .customLong("log-storage"),
            help: "Storage of the log stream: file, or memory (tests and benchmarks only: a restart of the whole NATS cluster loses the log).")
    var logStorage = "file"
    @Option(name: .customLong("log-duplicate-window"),
            help: "How long JetStream drops a repeated publish of the same event by its id (e.g. 2m, 1h); later repeats are answered from the hub's own records.")
    var logDuplicateWindow = "2m"

    var servers: [String] { nats.map(Self.split) ?? [] }

    /// The cluster settings when --nats is given.
    func settings(defaultNode: String) -> ClusterSettings? {
        guard nats != nil else { return nil }
        var s = ClusterSettings(servers: servers, node: node ?? defaultNode)
        s.replicas = logReplicas
        s.memoryStorage = logStorage == "memory"
        s.duplicateWindowSeconds = Int(parseDuration(logDuplicateWindow).map { $0 / 1_000_000 } ?? 120)
        return s
    }

    func validate() throws {
        guard logReplicas >= 1 && logReplicas <= 5 else { throw ValidationError("--log-replicas: expected 1 to 5 (JetStream's limit), got \(logReplicas)") }
        guard ["file", "memory"].contains(logStorage) else { throw ValidationError("--log-storage: expected file or memory, got \(logStorage)") }
        guard let window = parseDuration(logDuplicateWindow), window >= 1_000_000 else {
            throw ValidationError("--log-duplicate-window: expected a duration of at least 1s such as 2m or 1h, got \(logDuplicateWindow)")
        }
    }

    static func split(_ list: String) -> [String] {
        list.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }
}
