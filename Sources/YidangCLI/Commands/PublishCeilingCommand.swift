import ArgumentParser
import Foundation
import Hummingbird
import JSON
import Logging
import NIOPosix
import RocksDB
import Synchronization
import YidangModel
import YidangServer
import YidangStore

/// The ceiling under any durable HTTP publish path on this machine: the hub's HTTP server
/// (Hummingbird, one event loop per core) answering each `POST /v1/events` only after its
/// body is in RocksDB with a synced write-ahead log, and doing nothing else — no
/// authentication, parsing, validation or projection. The writes run on a pool of threads,
/// as db_bench's writers do, so that RocksDB groups concurrent ones into one sync. The
/// benchmark suite measures it with the same `wrk` load as the hub's publishes; what the
/// hub does beyond it is its own cost.
///
/// With `--bulk`, the same for a department's bulk sync: each request an NDJSON body, and
/// for each line the five writes the hub stores for an event about a new person, the three
/// fields they need read straight from the line's bytes (``BulkWriteCeiling/put(line:position:into:)``),
/// sorted as the writer sorts a group, in one synced batch per request, then a per-event
/// answer of the hub's shape. The store is opened as the hub opens one. No authentication,
/// parsing, validation, lookup or fold: the ceiling under any bulk HTTP ingest with the
/// hub's storage layout, on this HTTP server and with this load generator on the same cores.
struct PublishCeilingCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-publish-ceiling", abstract: "HTTP + synced RocksDB write per request, nothing else (benchmark aid).",
        shouldDisplay: false)
    @Option(help: "A new directory for the RocksDB store.") var data: String
    @Option(help: "Listen port.") var port = 8090
    @Option(help: "Threads that write (each blocks in its synced write).") var writers = 16
    @Flag(inversion: .prefixedNo, help: "Sync each write (--no-sync: what HTTP alone costs).") var sync = true
    @Flag(help: "Bulk NDJSON bodies: each line's five store writes, one synced batch per request, a per-event answer.")
    var bulk = false

    func run() async throws {
        try await guarded {
            let sync = self.sync
            // The bulk ceiling's store has the hub's layout and options; the publish ceiling's
            // is RocksDB's defaults, one key a request.
            let database: Database
            if bulk { (database, _) = try Hub.openDatabase(directory: data, configPath: nil) } else { database = try Database(path: data) }
            defer { database.close() }
            let pool = NIOThreadPool(numberOfThreads: writers)
            pool.start()
            let next = Atomic<UInt64>(0)
            let router = Router()
            if bulk {
                router.post("/v1/events") { request, context -> Response in
                    let body = try await request.body.collect(upTo: 64 << 20)
                    let (answer, accepted) = try await pool.runIfActive { try Self.writeBulk(Array(body.readableBytesView), database: database, next: next, sync: sync) }
                    return Response(status: accepted == 0 ? .unprocessableContent : .ok, headers: [.contentType: "application/json"],
                                    body: .init(byteBuffer: ByteBuffer(bytes: answer)))
                }
            } else {
                router.post("/v1/events") { request, context -> Response in
                    let body = try await request.body.collect(upTo: 1 << 20)
                    let position = next.add(1, ordering: .relaxed).newValue
                    let key = withUnsafeBytes(of: position.bigEndian) { Array($0) }
                    let value = Array(body.readableBytesView)
                    try await pool.runIfActive { try database.put(key, value, sync: sync) }
                    return Response(status: .created, headers: [.contentType: "application/json"],
                                    body: .init(byteBuffer: ByteBuffer(string: #"{"status":"accepted","position":\#(position)}"#)))
                }
            }
            var logger = Logger(label: "yidang.bench-publish-ceiling")
            logger.logLevel = .warning
            let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)), logger: logger)
            do {
                try await app.runService()
            } catch {
                try? await pool.shutdownGracefully()   // the server's error is the one to report
                throw error
            }
            try await pool.shutdownGracefully()
        }
    }

    /// One bulk request: its lines' writes in one synced, sorted batch at positions taken from
    /// `next`, and the hub's answer to it (``EventAnswer``), 422 when nothing was stored as the
    /// hub answers. A line without the fields its keys need is answered as rejected and not written.
    static func writeBulk(_ body: [UInt8], database: Database, next: borrowing Atomic<UInt64>, sync: Bool) throws -> (answer: [UInt8], accepted: Int) {
        let lines = NDJSON.lines(body)
        let first = next.add(UInt64(lines.count), ordering: .relaxed).newValue - UInt64(lines.count) + 1
        let ordered = OrderedWriteBatch(capacity: 5 * lines.count)
        let written = lines.indices.map { BulkWriteCeiling.put(line: lines[$0].bytes, position: first + UInt64($0), into: ordered) }
        try database.write(ordered.build(families: database.families), sync: sync)
        let accepted = written.count { $0 != nil }
        let unreadable = EventRejection("(line)", .missingField, "the line lacks an \"id\", \"source\" or person \"subject\" string")
        let answer = EventAnswer.batch(count: lines.count, accepted: accepted, duplicate: 0, rejected: lines.count - accepted) { index, w in
            let fields = written[index]
            EventAnswer.write(index: index, id: fields?.id, source: fields?.source,
                              fields == nil ? .rejected(unreadable) : .accepted(position: first + UInt64(index)), into: &w)
        }
        return (answer, accepted)
    }
}
