import Foundation
import RocksDB
import YidangProjection

/// A replay's change feed written straight into table files, then ingested at once.
///
/// Change positions ascend for the whole replay, so the records can skip the memtable, the
/// WAL and the flush: they are the bulk of what a rebuild writes (one per event), and the
/// memtable insert and flush were most of the rebuild's write cost. Files hold at most
/// `keysPerFile` records each and never overlap; ``ingest()`` moves all of them into the
/// database in one atomic step. Used from one thread at a time.
final class ChangeFiles: @unchecked Sendable {
    let database: Database
    /// Where the files are written before ingestion (emptied first; removed by ``ingest()``).
    let directory: String
    let keysPerFile: Int
    private var finished: [String] = []
    private var current: SortedFileWriter?

    /// - Throws: when `directory` cannot be created.
    init(database: Database, directory: String, keysPerFile: Int = 1_000_000) throws {
        self.database = database
        self.directory = directory
        self.keysPerFile = max(1, keysPerFile)
        try? FileManager.default.removeItem(atPath: directory)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    /// Writes one change record; its position must be above every one written before.
    /// - Throws: ``RocksDBError`` for a failed write or a position out of order.
    func put(_ change: borrowing ChangeRecord) throws {
        let writer: SortedFileWriter
        if let open = current, open.count < keysPerFile {
            writer = open
        } else {
            try closeCurrent()
            writer = try database.sortedFileWriter(path: directory + "/changes-\(finished.count + 1).sst")
            current = writer
        }
        try writer.put(Keys.changeKey(change.position), change.encoded())
    }

    private func closeCurrent() throws {
        guard let open = current else { return }
        current = nil
        if try open.finish() { finished.append(open.path) }
    }

    /// Completes the files and moves them into the database (atomically), then removes the
    /// directory. Call after every other write of the replay is in the database.
    /// - Returns: the number of files ingested.
    @discardableResult
    func ingest() throws -> Int {
        try closeCurrent()
        try database.ingest(finished)
        try? FileManager.default.removeItem(atPath: directory)
        return finished.count
    }
}
