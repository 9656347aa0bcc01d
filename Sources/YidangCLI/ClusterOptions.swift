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

    var servers: [String] { nats.map(Self.split) ?? [] }

    /// The cluster settings when --nats is given.
    func settings(defaultNode: String) -> ClusterSettings? {
        guard nats != nil else { return nil }
        var s = ClusterSettings(servers: servers, node: node ?? defaultNode)
        s.replicas = logReplicas
        return s
    }

    static func split(_ list: String) -> [String] {
        list.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }
}
