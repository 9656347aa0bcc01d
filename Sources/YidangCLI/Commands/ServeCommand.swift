import ArgumentParser
import Foundation
import Hummingbird
import Logging
import YidangModel
import YidangServer
import YidangStore

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", abstract: "Run the HTTP API (default 127.0.0.1:8080) on a local data directory.",
        discussion: """
        Stops gracefully on SIGTERM/SIGINT: in-flight requests finish, RocksDB closes cleanly.
        Create tokens first (yidang tokens create --role admin), or with POST /v1/tokens as admin.
        Example: yidang serve --data /var/lib/yidang --port 8080
        A cluster node (every node the same command with its own --data, --port and --node):
          yidang serve --data /var/lib/yidang --nats nats://10.0.0.1:4222,nats://10.0.0.2:4222,nats://10.0.0.3:4222 --node hub-1
        A node applies the replicated log into its own data directory and answers any call;
        the change feed and the departments' NATS publishing use the same servers unless
        --change-stream / --event-stream say otherwise.
        """)
    @OptionGroup var data: DataOptions
    @Option(help: "Listen address.") var host = "127.0.0.1"
    @Option(help: "Listen port (0 picks a free one).") var port = 8080
    @Option(name: .customLong("max-body"), help: "Largest request body in bytes.") var maxBody = 16 << 20
    @Option(name: .customLong("change-stream"),
            help: "NATS servers (nats://host:port, comma-separated) to publish the change feed to as the JetStream stream YIDANG_CHANGES.")
    var changeStream: String?
    @Option(name: .customLong("change-stream-replicas"), help: "Replicas of that stream (3 on a three-server cluster).")
    var changeStreamReplicas = 1
    @Option(name: .customLong("event-stream"),
            help: "NATS servers (comma-separated) where departments publish events on yidang.events.<department>, kept in the JetStream stream YIDANG_EVENTS; results on yidang.results.<department>.")
    var eventStream: String?
    @Option(name: .customLong("event-stream-replicas"), help: "Replicas of that stream.") var eventStreamReplicas = 1
    @OptionGroup var cluster: ClusterOptions

    func run() async throws {
        try await guarded {
            var logger = Logger(label: "yidang")
            logger.logLevel = ProcessInfo.processInfo.environment["LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
            let hub = try data.openHub()
            defer { hub.close() }
            var options = ServerOptions()
            options.host = host
            options.port = port
            options.maxBodyBytes = maxBody
            options.changeStreamServers = changeStream.map(ClusterOptions.split) ?? []
            options.changeStreamReplicas = changeStreamReplicas
            options.eventStreamServers = eventStream.map(ClusterOptions.split) ?? []
            options.eventStreamReplicas = eventStreamReplicas
            if let settings = cluster.settings(defaultNode: "\(ProcessInfo.processInfo.hostName):\(port)") {
                options.cluster = settings
                // A cluster runs on NATS: its change feed and the departments' publishing too.
                if changeStream == nil { options.changeStreamServers = settings.servers; options.changeStreamReplicas = settings.replicas }
                if eventStream == nil { options.eventStreamServers = settings.servers; options.eventStreamReplicas = settings.replicas }
            }
            let dir = data.directory
            let markerLogger = logger
            let app = try await YidangServer.application(hub: hub, options: options, logger: logger) { bound in
                // The marker first, then the one line on stdout that scripts and tests wait for.
                do { try ServingMarker.write(directory: dir, url: "http://\(host):\(bound)") } catch {
                    markerLogger.warning("could not write \(ServingMarker.path(dir)); commands refused by the directory's lock will not name this hub: \(error)")
                }
                FileHandle.standardOutput.write(Data("yidang serving http://\(host):\(bound) data=\(dir)\n".utf8))
            }
            defer { ServingMarker.remove(directory: dir) }
            try await app.runService()
            logger.info("stopped; closing the data directory")
        }
    }
}
