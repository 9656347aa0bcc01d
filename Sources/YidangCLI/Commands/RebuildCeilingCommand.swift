import ArgumentParser
import YidangStore

/// The ceiling under any rebuild of a store: RocksDB alone reading its log and rewriting its
/// derived keys, and nothing else (``RebuildCeiling``). The benchmark suite prints it beside
/// db_bench's readseq and the hub's rebuild of the same store.
struct RebuildCeilingCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-rebuild-ceiling", abstract: "RocksDB alone: a rebuild's reads and writes, nothing else (benchmark aid).",
        shouldDisplay: false)
    @Option(help: "A data directory holding a projected log (its derived keys are rewritten as they are).") var data: String
    @Option(help: "Threads that write the derived keys.") var writers = 2

    func run() async throws {
        try await guarded {
            let (database, _) = try Hub.openDatabase(directory: data, configPath: nil)
            defer { database.close() }
            let m = try RebuildCeiling.run(database: database, writers: writers)
            // Events per second, then the CPU each event cost (µs), for the suite to read.
            print(String(format: "%.0f %.2f", m.eventsPerSecond, m.cpuSecondsPerEvent * 1e6))
        }
    }
}
