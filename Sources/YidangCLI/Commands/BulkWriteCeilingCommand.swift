import ArgumentParser
import YidangStore

/// The ceiling under any bulk ingest with this store's layout: RocksDB alone writing the
/// five keys the hub stores for each event of a bulk sync, in synced batches from two
/// writers, and nothing else (``BulkWriteCeiling``). The benchmark suite prints it beside
/// PostgreSQL's bulk transactions and the hub's bulk HTTP ingest.
struct BulkWriteCeilingCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-bulk-ceiling", abstract: "RocksDB alone: the hub's writes for bulk events, nothing else (benchmark aid).",
        shouldDisplay: false)
    @Option(help: "A new data directory (its store is opened as the hub opens one).") var data: String
    @Option(help: "Events to write.") var events = 200_000
    @Option(help: "Events per synced batch.") var batch = 1000
    @Option(help: "Threads that write.") var writers = 2
    @Flag(help: "Write the keys as `yidang import` writes a bulk load (sorted table files of --group events, ingested, compactions awaited), not in synced batches.")
    var asImport = false
    @Option(help: "Events per table-file group (with --as-import).") var group = 10_000

    func run() async throws {
        try await guarded {
            let (database, _) = try Hub.openDatabase(directory: data, configPath: nil)
            defer { database.close() }
            let m = asImport
                ? try BulkWriteCeiling.runAsImport(database: database, events: events, group: group)
                : try BulkWriteCeiling.run(database: database, events: events, batch: batch, writers: writers)
            // Events per second, then the CPU each event cost (µs), for the suite to read.
            print(String(format: "%.0f %.2f", m.eventsPerSecond, m.cpuSecondsPerEvent * 1e6))
        }
    }
}
