import ArgumentParser
import Foundation
import JSON
import RocksDB
import YidangModel
import YidangStore

/// Where the data lives (local mode).
struct DataOptions: ParsableArguments {
    @Option(name: .long, help: "Data directory (default ./yidang-data, or $YIDANG_DATA).")
    var data: String?

    @Option(name: .long, help: "Configuration YAML (departments, attributes, precedence). Stored in the data directory.")
    var config: String?

    var directory: String { data ?? ProcessInfo.processInfo.environment["YIDANG_DATA"] ?? "./yidang-data" }

    /// - Parameter compacting: false for a command that only reads (see ``Hub/init(directory:configPath:compacting:readingIfHeld:logger:)``).
    /// - Parameter readingIfHeld: the command only reads, so it may read a directory a
    ///   running hub holds (as a RocksDB secondary instance).
    func openHub(compacting: Bool = true, readingIfHeld: Bool = false) throws -> Hub {
        do { return try Hub(directory: directory, configPath: config, compacting: compacting, readingIfHeld: readingIfHeld) } catch {
            throw explained(error)
        }
    }

    /// Opens the database alone (rebuild, verify, backup, compact), explaining a held directory.
    func openDatabase(compacting: Bool, readingIfHeld: Bool = false) throws -> (Database, Configuration) {
        do { return try Hub.openDatabase(directory: directory, configPath: config, compacting: compacting, readingIfHeld: readingIfHeld) } catch {
            throw explained(error)
        }
    }

    /// A held directory in one line that says what to do; any other error as it is.
    func explained(_ error: Error) -> CLIError {
        guard Database.isHeldElsewhere(error) else { return .failure("cannot open \(directory): \(error)") }
        if let serving = ServingMarker.read(directory: directory) {
            return .failure("\(directory) is held by a running hub (\(serving.url), pid \(serving.pid)): use --server \(serving.url) --token …, or stop the hub first")
        }
        return .failure("\(directory) is held by another process (a running hub or command): use --server/--token against the hub, or wait for it to finish")
    }
}

/// `DIR/serving.json`: which hub serves a data directory (its URL and pid), written by
/// `yidang serve` once it listens and removed when it stops, so that a command refused by
/// the directory's lock can say where to go instead.
enum ServingMarker {
    struct Serving { var url: String; var pid: Int32 }

    static func path(_ directory: String) -> String { directory + "/serving.json" }

    static func write(directory: String, url: String) throws {
        let body: JSONValue = ["url": .string(url), "pid": JSONValue(Int(getpid()))]
        try Data(JSONWriter.bytes(body)).write(to: URL(fileURLWithPath: path(directory)), options: .atomic)
    }

    static func remove(directory: String) {
        // A marker left behind names a pid that is gone, which read() checks.
        try? FileManager.default.removeItem(atPath: path(directory))
    }

    /// The hub serving `directory`, when the marker names a live process.
    static func read(directory: String) -> Serving? {
        guard let data = FileManager.default.contents(atPath: path(directory)),
              let json = try? JSONParser.parse(Array(data)),   // a torn or foreign file: no marker
              let url = json["url"]?.stringValue, let pid = json["pid"]?.intValue, pid > 0,
              kill(Int32(pid), 0) == 0 else { return nil }
        return Serving(url: url, pid: Int32(pid))
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

extension ParsableArguments {
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
