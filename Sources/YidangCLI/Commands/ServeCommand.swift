import ArgumentParser
import Foundation
import YidangStore

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "serve", abstract: "Run the HTTP API (default 127.0.0.1:8080).")
    @OptionGroup var data: DataOptions
    @Option(help: "Listen address.") var host = "127.0.0.1"
    @Option(help: "Listen port.") var port = 8080

    func run() async throws {
        try await guarded { throw CLIError.failure("serve: the HTTP API is not built yet") }
    }
}

struct TokensCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "tokens", abstract: "API tokens.")
    func run() async throws {
        try await guarded { throw CLIError.failure("tokens: not built yet") }
    }
}
