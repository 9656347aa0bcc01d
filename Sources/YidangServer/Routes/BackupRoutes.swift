import Foundation
import Hummingbird
import JSON
import Synchronization
import YidangModel
import YidangStore

/// `POST /v1/backup {"destination"}` (admin): a consistent RocksDB checkpoint of the serving
/// hub, written on the hub's machine while it keeps serving. Every event acknowledged before
/// the request arrived is in it (acknowledged means synced; a checkpoint holds every synced
/// write, and a group's log entries and derived records are one atomic batch, so the copy
/// is a state the hub was in).
struct BackupRoutes {
    let hub: Hub
    let audit: AuditTrail
    /// Whether a backup is being written: one at a time.
    let running = BackupGate()

    init(hub: Hub, audit: AuditTrail) {
        self.hub = hub; self.audit = audit
    }

    func register(on router: Router<YidangRequestContext>) {
        router.post("/v1/backup") { request, context in try await backup(request, context) }
    }

    func backup(_ request: Request, _ context: YidangRequestContext) async throws -> Response {
        let admin = try context.require(.admin)
        var request = request
        let body = try await request.jsonBody(upTo: 1 << 16)
        guard case .object(let o) = body else { throw invalidBackup("the body must be an object {\"destination\": \"/path\"}", field: "(body)") }
        for key in o.keys where key != "destination" { throw invalidBackup("is not a field of a backup request (destination)", field: key) }
        guard let destination = o["destination"]?.stringValue, !destination.isEmpty else {
            throw invalidBackup("a directory on the hub's machine is required, e.g. /var/backups/yidang/2026-12-02", field: "destination")
        }
        guard destination.hasPrefix("/") else { throw invalidBackup("must be an absolute path on the hub's machine, got \"\(destination)\"", field: "destination") }
        let standardized = URL(fileURLWithPath: destination).standardizedFileURL.path
        let own = URL(fileURLWithPath: hub.directory).standardizedFileURL.path
        guard standardized != own, !standardized.hasPrefix(own + "/") else {
            throw invalidBackup("must be outside the hub's data directory \(own)", field: "destination")
        }
        guard !FileManager.default.fileExists(atPath: standardized) else {
            var p = Problem(.conflict, type: "destination-exists", title: "Conflict", detail: "destination: \(standardized) already exists; a backup goes into a new directory")
            p.field = "destination"
            throw p
        }
        guard running.enter() else {
            throw Problem(.conflict, type: "backup-running", title: "Conflict", detail: "a backup of this hub is being written; try again when it is done")
        }
        defer { running.leave() }
        try audit.recordOrRefuse(admin, action: "backup", subject: nil, detail: standardized, logger: context.logger)
        let started = Date()
        let head = try hub.reader.headPosition()
        let (hub, target) = (self.hub, standardized)
        do {
            // A checkpoint links or copies table files: blocking I/O, off the event loop.
            try await Task.detached { try Hub.backup(database: hub.database, directory: hub.directory, to: target) }.value
        } catch {
            context.logger.error("backup to \(target) failed: \(error)")
            // What was written is no backup; removing it may fail too, which the answer says.
            let removed = (try? FileManager.default.removeItem(atPath: target)) != nil
            throw Problem(.internalServerError, type: "backup-failed", title: "Internal Server Error", detail: "the backup to \(target) failed: \(error)\(removed ? "" : "; remove the partial copy there")")
        }
        let seconds = Date().timeIntervalSince(started)
        context.logger.info("backup written to \(target) in \(String(format: "%.2f", seconds)) s")
        return Reply.json(["destination": .string(target), "position": JSONValue(head),
                           "seconds": .number(String(format: "%.3f", seconds))], status: .created)
    }

    func invalidBackup(_ detail: String, field: String) -> Problem {
        Problem(.unprocessableContent, type: "invalid-field", title: "Invalid backup request", detail: "\(field): \(detail)", field: field)
    }
}

/// One backup at a time.
final class BackupGate: Sendable {
    private let busy = Atomic<Bool>(false)
    /// True when no backup was running (and now this one is).
    func enter() -> Bool { busy.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged }
    func leave() { busy.store(false, ordering: .releasing) }
}
