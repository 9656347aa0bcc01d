import ArgumentParser
import Foundation
import YidangStore

struct RebuildCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rebuild", abstract: "Recreate golden records, conflicts, links and the change feed from the log alone.")
    @OptionGroup var data: DataOptions

    func run() async throws {
        try await guarded {
            let (db, config) = try Hub.openDatabase(directory: data.directory, configPath: data.config, compacting: false)
            defer { db.close() }
            let started = Date()
            let n = try Rebuilder.rebuild(from: db, into: db, configuration: config) { done, total in
                Terminal.progress("rebuilding", done: done, total: total)
            }
            let s = Date().timeIntervalSince(started)
            print("rebuilt from \(n) events in \(String(format: "%.2f", s)) s (\(Int(s > 0 ? Double(n) / s : 0)) events/s)")
        }
    }
}

struct VerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify", abstract: "Prove the stored projection, conflicts and change feed equal a fresh replay of the log.",
        discussion: "Exits 0 when they agree, 6 on a mismatch (listing the first differences).")
    @OptionGroup var data: DataOptions

    func run() async throws {
        try await guarded {
            let (db, config) = try Hub.openDatabase(directory: data.directory, configPath: data.config, compacting: false)
            defer { db.close() }
            let scratch = data.directory + "/verify-scratch"
            let report = try Verifier.verify(database: db, configuration: config, scratchDirectory: scratch) { done, total in
                Terminal.progress("replaying", done: done, total: total)
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
        commandName: "backup", abstract: "Write a consistent copy (RocksDB checkpoint) of a data directory not held by a running server.")
    @OptionGroup var data: DataOptions
    @Argument(help: "Destination directory (must not exist).") var destination: String

    func run() async throws {
        try await guarded {
            let (db, _) = try Hub.openDatabase(directory: data.directory, configPath: data.config, compacting: false)
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
            let (db, _) = try Hub.openDatabase(directory: data.directory, configPath: data.config)
            defer { db.close() }
            try db.flush()
            try db.compactAll()
            print("compacted \(data.directory)")
        }
    }
}
