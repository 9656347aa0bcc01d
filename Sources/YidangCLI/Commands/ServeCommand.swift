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
        """)
    @OptionGroup var data: DataOptions
    @Option(help: "Listen address.") var host = "127.0.0.1"
    @Option(help: "Listen port (0 picks a free one).") var port = 8080
    @Option(name: .customLong("max-body"), help: "Largest request body in bytes.") var maxBody = 16 << 20

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
            let dir = data.directory
            let app = try await YidangServer.application(hub: hub, options: options, logger: logger) { bound in
                // One line on stdout that scripts and tests wait for.
                FileHandle.standardOutput.write(Data("yidang serving http://\(host):\(bound) data=\(dir)\n".utf8))
            }
            try await app.runService()
            logger.info("stopped; closing the data directory")
        }
    }
}

struct TokensCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokens", abstract: "API tokens (stored hashed; each bound to a role).",
        subcommands: [Create.self, List.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a token and print it alone on stdout (shown once).",
            discussion: """
            Works on a data directory not held by a running server; against a running server use
            POST /v1/tokens with an admin token.
            Example: TOKEN=$(yidang tokens create --role publisher --source gongan --name 公安接口)
            """)
        @OptionGroup var data: DataOptions
        @Option(help: "publisher, reader, subscriber, steward or admin.") var role: String
        @Option(help: "For publishers: the department code they publish as.") var source: String?
        @Option(help: "A name for the audit trail.") var name: String?
        @Option(help: "L1…L4: the highest sensitivity the holder may see or grant (default L2 for subscribers, L3 for readers and stewards).")
        var clearance: String?

        func run() async throws {
            try await guarded {
                guard let r = Role(rawValue: role) else {
                    throw CLIError.failure("--role: expected one of \(Role.allCases.map(\.rawValue).joined(separator: ", ")), got \(role)")
                }
                let hub = try data.openHub()
                defer { hub.close() }
                if r == .publisher {
                    guard let source else { throw CLIError.failure("--source: a publisher token needs its department code") }
                    guard hub.configuration.departments[source] != nil else {
                        throw CLIError.failure("--source: \"\(source)\" is not a configured department (\(hub.configuration.departments.keys.sorted().joined(separator: ", ")))")
                    }
                }
                var level: Sensitivity?
                if let clearance {
                    guard let l = Sensitivity(rawValue: clearance) else { throw CLIError.failure("--clearance: expected L1, L2, L3 or L4, got \(clearance)") }
                    level = l
                }
                let token = try TokenStore(database: hub.database).create(role: r, source: source,
                                                                          name: name ?? "\(r.rawValue)\(source.map { "-" + $0 } ?? "")",
                                                                          clearance: level)
                print(token)
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List token holders (never the tokens).")
        @OptionGroup var data: DataOptions
        @OptionGroup var output: OutputOptions
        func run() async throws {
            try await guarded {
                let hub = try data.openHub()
                defer { hub.close() }
                let list = try TokenStore(database: hub.database).list()
                print(Terminal.table(["name", "role", "source"], list.map { [$0.name, $0.role.rawValue, $0.source ?? ""] }))
            }
        }
    }
}
