import ArgumentParser
import Foundation
import Hummingbird
import Logging
import NIOPosix
import RocksDB
import Synchronization

/// The ceiling under any durable HTTP publish path on this machine: the hub's HTTP server
/// (Hummingbird, one event loop per core) answering each `POST /v1/events` only after its
/// body is in RocksDB with a synced write-ahead log, and doing nothing else — no
/// authentication, parsing, validation or projection. The writes run on a pool of threads,
/// as db_bench's writers do, so that RocksDB groups concurrent ones into one sync. The
/// benchmark suite measures it with the same `wrk` load as the hub's publishes; what the
/// hub does beyond it is its own cost.
struct PublishCeilingCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-publish-ceiling", abstract: "HTTP + synced RocksDB write per request, nothing else (benchmark aid).",
        shouldDisplay: false)
    @Option(help: "A new directory for the RocksDB store.") var data: String
    @Option(help: "Listen port.") var port = 8090
    @Option(help: "Threads that write (each blocks in its synced write).") var writers = 16
    @Flag(inversion: .prefixedNo, help: "Sync each write (--no-sync: what HTTP alone costs).") var sync = true

    func run() async throws {
        try await guarded {
            let sync = self.sync
            let database = try Database(path: data)
            defer { database.close() }
            let pool = NIOThreadPool(numberOfThreads: writers)
            pool.start()
            let next = Atomic<UInt64>(0)
            let router = Router()
            router.post("/v1/events") { request, context -> Response in
                let body = try await request.body.collect(upTo: 1 << 20)
                let position = next.add(1, ordering: .relaxed).newValue
                let key = withUnsafeBytes(of: position.bigEndian) { Array($0) }
                let value = Array(body.readableBytesView)
                try await pool.runIfActive { try database.put(key, value, sync: sync) }
                return Response(status: .created, headers: [.contentType: "application/json"],
                                body: .init(byteBuffer: ByteBuffer(string: #"{"status":"accepted","position":\#(position)}"#)))
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
}
