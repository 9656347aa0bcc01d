import Dispatch
import Foundation
import Synchronization
import JSON
import YidangModel

/// Totals of a bulk import.
public struct ImportSummary: Sendable {
    public init() {}
    public var lines: UInt64 = 0
    public var accepted: UInt64 = 0
    public var duplicates: UInt64 = 0
    public var rejected: UInt64 = 0
}

/// Bulk-loads NDJSON CloudEvents through the ingest pipeline the HTTP API uses (the same
/// validation, resolution, authorization and single writer). Lines are validated on all
/// cores while the writer commits the previous chunk; results are in file order.
public struct Importer: Sendable {
    public let hub: Hub
    public let pipeline: IngestPipeline
    /// Whom the lines are published by: the operator (any department) by default.
    public var publisher: Publisher = .anyDepartment
    public var chunkSize = 10_000
    /// Bytes read from a file at a time (a line longer than this is read in several).
    public var readSize = 4 << 20

    public init(hub: Hub, pipeline: IngestPipeline? = nil) {
        self.hub = hub
        self.pipeline = pipeline ?? IngestPipeline(hub: hub)
    }

    /// A rejected line: where it was and why.
    public struct Reject: Sendable {
        public var file: String
        public var line: UInt64
        public var rejection: EventRejection
        public var text: String
    }

    /// A line of an input file, by file and line number.
    typealias Line = (file: String, line: UInt64, text: [UInt8])
    /// A chunk handed to the writer: its lines and their pending outcomes.
    typealias SubmittedChunk = (pending: PendingIngest, lines: [Line])

    /// Imports `files`; calls `onReject` for each rejected line and `progress` with bytes read.
    public func importFiles(_ files: [String], onReject: (Reject) throws -> Void,
                            progress: ((_ bytesDone: UInt64, _ bytesTotal: UInt64) -> Void)? = nil) async throws -> ImportSummary {
        var summary = ImportSummary()
        // For the progress bar only: a file whose size cannot be read fails when it is opened.
        let total = files.reduce(UInt64(0)) { $0 + ((try? FileManager.default.attributesOfItem(atPath: $1)[.size] as? UInt64) ?? 0) }
        var bytesDone: UInt64 = 0
        var inflight: [SubmittedChunk] = []
        var rejected = RejectionCounts()

        func drain(_ entry: SubmittedChunk) async throws {
            let results = try await entry.pending.results()
            rejected.add(entry.pending.admissions, results)
            for (i, result) in results.enumerated() {
                switch result {
                case .accepted: summary.accepted += 1
                case .duplicate: summary.duplicates += 1
                case .rejected(let rejection):
                    summary.rejected += 1
                    let line = entry.lines[i]
                    try onReject(Reject(file: line.file, line: line.line, rejection: rejection, text: String(decoding: line.text, as: UTF8.self)))
                }
            }
        }

        // Validation takes the CPU the writer leaves (see YieldingWorkers).
        let workers = YieldingWorkers(count: ProcessInfo.processInfo.activeProcessorCount, niceness: Importer.validationNiceness)
        defer { workers.shutdown() }
        // Groups go into table files while the load runs (EventStore.setBulkLoading), and
        // back to write batches when it ends, also when it fails.
        try await hub.store.setBulkLoading(true)
        // Counted beside the load: when its subjects come back, the subject cache is sized to
        // hold them once the count is in, before the first records would leave it.
        let census = InputCensus(files: files, upTo: EventStore.bulkLoadCacheCeiling / LiveProjectionWriter.generations,
                                 niceness: Importer.validationNiceness)
        var sized = false
        do {
            try await forEachChunk(of: files, read: { bytesDone += $0 }) { lines in
                if !sized, let count = census.result() {
                    sized = true
                    if count.subjectsComeBack { await hub.store.holdSubjects(count.subjects) } else { await hub.store.writeLogIndexesWithGroups() }
                }
                summary.lines += UInt64(lines.count)
                let admitted = await admit(lines.map(\.text), on: workers)
                inflight.append((pipeline.submit(admitted), lines))
                if inflight.count > 6 { try await drain(inflight.removeFirst()) }
                progress?(bytesDone, total)
            }
            for entry in inflight { try await drain(entry) }
        } catch {
            // The load's own error is the one to report. Ending the load writes the golden
            // records it kept waiting; if that fails too, the next open rebuilds them.
            try? await hub.store.setBulkLoading(false)
            throw error
        }
        try await hub.store.setBulkLoading(false)
        try await pipeline.recordRejections(rejected)
        // The load's own compactions are part of it (EventStore.settle).
        try await hub.store.settle()
        progress?(bytesDone, total)
        return summary
    }

    /// Reads `files` in order and hands `body` their non-blank lines, `chunkSize` at a time
    /// (the last chunk of each file may be shorter); `read` is told each block's size.
    ///
    /// The first chunks are smaller (an eighth of `chunkSize`, doubling): the writer can fold
    /// nothing until the first chunk is validated, and a small one reaches it sooner, while
    /// the next, larger one is validated beside its fold.
    /// - Throws: ``StoreError/notFound(_:)`` for a file that does not exist,
    ///   ``StoreError/unreadable(_:reason:)`` for one that cannot be opened or read (a
    ///   directory, a read error), or what `body` throws.
    func forEachChunk(of files: [String], read: (UInt64) -> Void, _ body: ([Line]) async throws -> Void) async throws {
        var size = max(1, chunkSize / 8)
        for path in files {
            let file = try LineFile(path: path, readSize: readSize)
            var lineNumber: UInt64 = 0
            var pending: [Line] = []
            while !file.atEnd {
                let n = try file.readLines { text in
                    lineNumber += 1
                    if !NDJSON.isBlank(text) { pending.append((path, lineNumber, Array(text))) }
                }
                if n > 0 { read(UInt64(n)) }
                while pending.count >= size || (file.atEnd && !pending.isEmpty) {
                    let n = min(size, pending.count)
                    let lines = Array(pending.prefix(n))
                    pending.removeFirst(n)
                    size = min(chunkSize, size * 2)
                    try await body(lines)
                }
            }
        }
    }

    /// The niceness of the validating threads: at 5, a validating thread that shares a core
    /// with a thread of the writer gets about a quarter of it (scheduler weights 335 and 1024).
    /// Hand runs measured 10 a little faster still, but it starves validation more when other
    /// processes load the machine.
    static let validationNiceness: Int32 = 5

    /// Admits lines through the pipeline in parallel on `workers`, keeping their order.
    func admit(_ lines: [[UInt8]], on workers: YieldingWorkers) async -> [Admission] {
        let pipeline = self.pipeline, publisher = self.publisher
        let now = EventStore.now()
        let parts = max(1, min(workers.count, lines.count / 256))
        let per = (lines.count + parts - 1) / parts
        let results = ResultSlots(count: parts)
        await workers.run(parts) { p in
            let lo = p * per, hi = min(lines.count, lo + per)
            var out: [Admission] = []
            out.reserveCapacity(max(0, hi - lo))
            if lo < hi {
                for i in lo..<hi { out.append(pipeline.admit(line: lines[i], by: publisher, now: now)) }
            }
            results.set(p, out)
        }
        return results.joined()
    }
}

/// Per-worker result slots for parallel validation.
final class ResultSlots: Sendable {
    private let slots: Mutex<[[Admission]]>
    init(count: Int) { slots = Mutex(Array(repeating: [], count: count)) }
    func set(_ i: Int, _ v: [Admission]) { slots.withLock { $0[i] = v } }
    func joined() -> [Admission] { slots.withLock { $0.flatMap { $0 } } }
}
