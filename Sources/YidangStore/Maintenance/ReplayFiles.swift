import Dispatch
import Foundation
import JSON
import RocksDB
import Synchronization
import YidangProjection

/// A replay's bulk output — its change feed and its final golden records — written straight
/// into table files, then ingested at once.
///
/// Change positions ascend for the whole replay, so the records can skip the memtable, the
/// WAL and the flush: they are the bulk of what a rebuild writes (one per event), and the
/// memtable insert and flush were most of the rebuild's write cost. Files hold at most
/// `keysPerFile` records each and never overlap; the golden records, written once at the
/// end in key order, go into files of their own (their key prefix differs). ``ingest()``
/// moves all of them into the database in one atomic step, above whatever the replay
/// wrote through the memtable. Used from one thread at a time.
///
/// The files are written uncompressed: the replay starts by deleting the derived key range,
/// so they overlap that deletion and land in level 0, which compaction compresses into
/// the levels below (as it does a flush).
final class ReplayFiles: @unchecked Sendable {
    let database: Database
    /// Where the files are written before ingestion (emptied first; removed by ``ingest()``).
    let directory: String
    let keysPerFile: Int
    private var finished: [String] = []
    private var current: SortedFileWriter?
    /// A change's key and stored form, rewritten in place for each record (two allocations
    /// per event less).
    private var key = Keys.changeKey(0)
    private var value = BinaryWriter(capacity: 1_024)

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
    func putChange(_ change: borrowing ChangeRecord) throws {
        let writer: SortedFileWriter
        if let open = current, open.count < keysPerFile {
            writer = open
        } else {
            try closeCurrent()
            writer = try database.sortedFileWriter(path: directory + "/changes-\(finished.count + 1).sst", compressed: false)
            current = writer
        }
        Keys.renumber(&key, change.position)
        value.bytes.removeAll(keepingCapacity: true)
        change.encode(into: &value)
        try writer.put(key, value.bytes)
    }

    /// Writes golden records into files of their own, in key order: two files of adjacent key
    /// ranges, encoded and written on two threads at once (the end of a replay has nothing
    /// else to do meanwhile).
    /// - Throws: ``RocksDBError`` for a failed write.
    func putGoldens(_ states: [SubjectState]) throws {
        guard !states.isEmpty else { return }
        var keyed = states.map { (key: Keys.goldenKey($0.subject), state: $0) }
        keyed.sort { $0.key.lexicographicallyPrecedes($1.key) }
        let halves = [keyed[..<(keyed.count / 2)], keyed[(keyed.count / 2)...]]
        let first = finished.count + 1
        let written = Mutex<[Result<String?, any Error>]>(Array(repeating: .success(nil), count: halves.count))
        DispatchQueue.concurrentPerform(iterations: halves.count) { part in
            let result = Result<String?, any Error> {
                let writer = try database.sortedFileWriter(path: directory + "/goldens-\(first + part).sst", compressed: false)
                let records = halves[part]
                for i in records.indices { try writer.put(records[i].key, records[i].state.encoded()) }
                return try writer.finish() ? writer.path : nil
            }
            written.withLock { $0[part] = result }
        }
        for result in written.withLock({ $0 }) {
            if let path = try result.get() { finished.append(path) }
        }
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
