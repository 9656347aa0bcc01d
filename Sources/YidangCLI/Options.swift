import ArgumentParser
import Foundation
import YidangStore

/// Where the data lives (local mode).
struct DataOptions: ParsableArguments {
    @Option(name: .long, help: "Data directory (default ./yidang-data, or $YIDANG_DATA).")
    var data: String?

    @Option(name: .long, help: "Configuration YAML (departments, attributes, precedence). Stored in the data directory.")
    var config: String?

    var directory: String { data ?? ProcessInfo.processInfo.environment["YIDANG_DATA"] ?? "./yidang-data" }

    /// - Parameter compacting: false for a command that only reads (see ``Hub/init(directory:configPath:compacting:logger:)``).
    func openHub(compacting: Bool = true) throws -> Hub {
        do { return try Hub(directory: directory, configPath: config, compacting: compacting) } catch {
            throw CLIError.failure("cannot open \(directory): \(error)")
        }
    }
}

struct OutputOptions: ParsableArguments {
    @Flag(name: .long, help: "Print JSON for scripts instead of a table.")
    var json = false
}

/// One clear line on stderr and a distinct exit code.
enum CLIError: Error, CustomStringConvertible {
    case failure(String)
    case notFound(String)
    case unauthorized(String)
    case unreachable(String)
    case mismatch(String)

    var description: String {
        switch self {
        case .failure(let m), .notFound(let m), .unauthorized(let m), .unreachable(let m), .mismatch(let m): return m
        }
    }
    var exitCode: Int32 {
        switch self {
        case .failure: return 1
        case .notFound: return 3
        case .unauthorized: return 4
        case .unreachable: return 5
        case .mismatch: return 6
        }
    }
}

extension AsyncParsableCommand {
    /// Runs `body`, turning errors into one line on stderr and an exit code.
    func guarded(_ body: () async throws -> Void) async throws {
        do { try await body() } catch let e as CLIError {
            Terminal.error(e.description)
            throw ExitCode(e.exitCode)
        } catch let e as ExitCode {
            throw e
        } catch {
            Terminal.error("\(error)")
            throw ExitCode(1)
        }
    }
}
