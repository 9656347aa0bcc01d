import ArgumentParser
import Foundation
import JSON
import RocksDB
import YidangStore

struct RebuildCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rebuild", abstract: "Recreate golden records, conflicts, links and the change feed from the log alone.")
    @OptionGroup var data: DataOptions

    func run() async throws {
        try await guarded {
            let (db, config) = try data.openDatabase(compacting: false)
            defer { db.close() }
            let started = Date()
            let report = try Rebuilder.rebuild(from: db, into: db, configuration: config) { done, total in
                Terminal.progress("rebuilding", done: done, total: total)
            }
            let s = Date().timeIntervalSince(started), n = report.events
            // Where the time went: the replay (the fold), then writing its golden records and ingesting.
            print("rebuilt from \(n) events in \(String(format: "%.2f", s)) s (\(Int(s > 0 ? Double(n) / s : 0)) events/s; "
                  + "replay \(String(format: "%.2f", report.replaySeconds)) s, then golden records, small writes and ingest "
                  + "\(String(format: "%.2f", report.finishSeconds)) s)")
        }
    }
}

struct VerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify", abstract: "Prove the stored projection, conflicts and change feed equal a fresh replay of the log.",
        discussion: """
        Exits 0 when they agree, 6 on a mismatch (listing the first differences). Works on a
        directory a hub is serving, as it stood when the command started. --json prints
        {"ok", "head", "digest", …}: the digest covers the log and every derived record, so
        equal digests prove two copies (replicas, a backup and its source) identical.
        """)
    @OptionGroup var data: DataOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await guarded {
            // A directory a hub is serving is verified as it stood when this command opened it.
            let (db, config) = try data.openDatabase(compacting: false, readingIfHeld: true)
            defer {
                db.close()
                if let secondary = db.secondaryPath { try? FileManager.default.removeItem(atPath: secondary) }   // scratch
            }
            let scratch = db.isSecondary ? NSTemporaryDirectory() + "yidang-verify-\(getpid())" : data.directory + "/verify-scratch"
            let report = try Verifier.verify(database: db, configuration: config, scratchDirectory: scratch) { done, total in
                Terminal.progress("replaying", done: done, total: total)
            }
            if output.json {
                let head = try StoreReader(database: db, configuration: config).headPosition()
                print(JSONWriter.serialize(["ok": .bool(report.isConsistent), "head": JSONValue(head), "digest": .string(try StoreDigest.compute(db)),
                                            "events": JSONValue(report.events), "keysCompared": JSONValue(UInt64(report.keysCompared)),
                                            "mismatches": .array(report.mismatches.map { .string($0) })]))
                if !report.isConsistent { throw ExitCode(6) }
                return
            }
            if report.isConsistent {
                print("ok: \(report.events) events replayed, \(report.keysCompared) derived keys equal the stored ones; the subject and idempotency indexes agree with the log")
            } else {
                for m in report.mismatches { print(m) }
                throw CLIError.mismatch("verify failed: \(report.mismatches.count) mismatches (run `yidang rebuild` to repair)")
            }
        }
    }
}

struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup", abstract: "Write a consistent copy (RocksDB checkpoint) of a data directory, or of a serving hub.",
        discussion: """
        Locally it works on a data directory no hub is serving. With --server/--token (admin) the
        serving hub writes the checkpoint to DEST on its own machine while it keeps serving, and
        the command returns when it is complete; every event acknowledged before it began is in it.
        `yidang restore DEST` and `yidang verify` accept it.
        Example: yidang backup /var/backups/yidang/2026-12-02 --server http://127.0.0.1:8080 --token $ADMIN
        """)
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "Destination directory (must not exist; on the hub's machine in remote mode).") var destination: String

    func run() async throws {
        try await guarded {
            if let remote = try connection.remoteClient() {
                let path = destination.hasPrefix("/") ? destination : FileManager.default.currentDirectoryPath + "/" + destination
                let answer = try await withClient(remote) { _ in try await remote.send(.POST, "/v1/backup", body: JSONWriter.bytes(["destination": .string(path)]), timeout: 3600) }
                print("backup written to \(answer["destination"]?.stringValue ?? path) (log position \(answer["position"]?.intValue ?? 0))")
                return
            }
            let data = connection.data
            let (db, _) = try data.openDatabase(compacting: false)
            defer { db.close() }
            try Hub.backup(database: db, directory: data.directory, to: destination)
            print("backup written to \(destination)")
        }
    }
}

struct RestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore", abstract: "Restore a backup into an empty data directory.")
    @OptionGroup var data: DataOptions
    @Argument(help: "Backup directory.") var source: String

    func run() async throws {
        try await guarded {
            try Hub.restore(from: source, to: data.directory)
            print("restored \(source) into \(data.directory)")
        }
    }
}

struct CompactCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "compact", abstract: "Compact the data directory (reclaims space; for size figures).",
                                                    shouldDisplay: false)
    @OptionGroup var data: DataOptions
    func run() async throws {
        try await guarded {
            let (db, _) = try data.openDatabase(compacting: true)
            defer { db.close() }
            try db.flush()
            try db.compactAll()
            print("compacted \(data.directory)")
        }
    }
}
