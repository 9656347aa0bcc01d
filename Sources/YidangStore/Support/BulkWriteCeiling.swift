import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Identifiers
import JSON
import RocksDB
import Synchronization
import YidangModel

/// What RocksDB alone does with the writes a bulk sync's events cost this store: the
/// ceiling under any bulk ingest with the hub's key layout (docs/ARCHITECTURE.md, "Storage").
///
/// For each event a department sends about a person new to the hub, the writer stores five
/// keys: the log entry, the subject index's run, the idempotency key, the golden record and
/// the change record (the subject index and the golden record at random places, the others
/// in order). This writes exactly those keys, built by the same functions, with values of
/// the sizes such events have in the store (`ldb scan` of a store the bulk load filled: 187,
/// 0, 8, 147 and 131 bytes) and text like theirs, in synced batches of `batch` events sorted
/// as the writer sorts its groups, from `writers` threads, as the two bulk clients' requests
/// are; and nothing else: no HTTP, parsing, validation or fold. The hub opens its store with
/// the same options (``DatabaseOptions``, the blocking index's prefix groups).
public enum BulkWriteCeiling {
    /// What a run measured.
    public struct Measurement: Sendable {
        /// Events written (or, replaying, read).
        public var events: Int
        /// Events written per second of wall time.
        public var eventsPerSecond: Double
        /// The process's CPU time per event meanwhile (the writers, RocksDB's flushes and
        /// compactions): what these writes cost the machine's cores.
        public var cpuSecondsPerEvent: Double

        /// `events` written since `started` (uptime nanoseconds), when the process had used
        /// `cpuAtStart` seconds of CPU.
        init(events: Int, since started: UInt64, cpuAtStart: Double) {
            self.events = events
            eventsPerSecond = Double(events) / (Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9)
            cpuSecondsPerEvent = (ProcessCPU.seconds() - cpuAtStart) / Double(max(1, events))
        }
    }

    /// Writes `events` events' keys into `database` and measures it from the moment every
    /// writer has built its batches to the last sync. Building the keys and values is the
    /// load generator's work, not RocksDB's, and is neither timed nor counted as CPU.
    /// - Throws: ``RocksDBError`` from a write (the first one any writer met).
    public static func run(database: Database, events: Int, batch: Int = 1000, writers: Int = 2) throws -> Measurement {
        let batch = max(1, batch), writers = max(1, writers)
        let batches = (events + batch - 1) / batch
        let ready = Atomic<Int>(0)
        let started = Atomic<UInt64>(0)
        let cpuAtStart = Mutex<Double>(0)
        let failure = Mutex<(any Error)?>(nil)
        DispatchQueue.concurrentPerform(iterations: writers) { writer in
            // Writer w takes batches w, w + writers, w + 2 × writers…, as two clients' requests
            // alternate.
            let mine = stride(from: writer, to: batches, by: writers).map { b in
                let ordered = OrderedWriteBatch(capacity: 5 * batch)
                for n in b * batch..<min(events, (b + 1) * batch) { put(event: n, writer: writer, into: ordered) }
                return ordered.build(families: database.families)
            }
            ready.add(1, ordering: .releasing)
            while ready.load(ordering: .acquiring) < writers { sched_yield() }
            // The first writer through the barrier starts the clocks.
            if started.compareExchange(expected: 0, desired: DispatchTime.now().uptimeNanoseconds, ordering: .relaxed).exchanged {
                cpuAtStart.withLock { $0 = ProcessCPU.seconds() }
            }
            for written in mine {
                guard failure.withLock({ $0 == nil }) else { return }
                do { try database.write(written, sync: true) } catch {
                    failure.withLock { $0 = $0 ?? error }
                }
            }
        }
        if let error = failure.withLock({ $0 }) { throw error }
        return Measurement(events: events, since: started.load(ordering: .relaxed), cpuAtStart: cpuAtStart.withLock { $0 })
    }

    /// Writes `events` events' keys into `database` as `yidang import` writes a bulk load:
    /// groups of `group` events, each sorted into the table files a load's group becomes
    /// (``EventStore/writeGroupFiles(_:database:path:)``) and ingested in order, under the
    /// load's level-0 triggers, then the triggers set back and every compaction waited for,
    /// as the import waits before it returns. The counterpart of ``run(database:events:batch:writers:)``'s
    /// live path: what the same keys cost stored the import's way. Building the keys is not
    /// timed; writing the files, ingesting them and compacting is.
    /// - Throws: ``RocksDBError`` from a file, an ingest or an option RocksDB refuses.
    public static func runAsImport(database: Database, events: Int, group: Int = 10_000) throws -> Measurement {
        let group = max(1, group)
        let directory = database.path + ".ceiling-groups"
        try? FileManager.default.removeItem(atPath: directory)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let groups = stride(from: 0, to: events, by: group).map { first in
            let ordered = OrderedWriteBatch(capacity: 5 * group)
            for n in first..<min(events, first + group) { put(event: n, writer: 0, into: ordered) }
            return ordered
        }
        let started = DispatchTime.now().uptimeNanoseconds
        let cpuAtStart = ProcessCPU.seconds()
        try EventStore.setLoadTriggers(true, database: database)
        for (n, ordered) in groups.enumerated() {
            try database.ingest(try EventStore.writeGroupFiles(ordered, database: database, path: "\(directory)/group-\(n).sst"))
        }
        try EventStore.setLoadTriggers(false, database: database)
        try database.waitForBackgroundWork()
        return Measurement(events: events, since: started, cpuAtStart: cpuAtStart)
    }

    /// The five writes of one NDJSON line of a bulk body, stored at `position`: the keys the
    /// writer would store for it, with the three fields they need (the first `"id"`,
    /// `"source"` and `"subject"` members, the subject a `person/…`) read straight from the
    /// line's bytes, and its bytes as the values, cut to the sizes such events have in the
    /// store. No parsing, validation, lookup or fold: the least any bulk ingest that stores
    /// this layout does for a line (the HTTP ceiling, `yidang bench-publish-ceiling --bulk`).
    /// - Returns: the line's `id` and `source`, for its answer; nil, and nothing written,
    ///   when one of the three members is missing or the subject is not a person.
    public static func put(line: ArraySlice<UInt8>, position: UInt64, into batch: OrderedWriteBatch) -> (id: String, source: String)? {
        let found: (id: String, source: String, subject: Subject)? = line.withUnsafeBufferPointer { bytes in
            guard let id = member(#""id""#, 1, in: bytes), let source = member(#""source""#, 1, in: bytes),
                  let subject = member(#""subject""#, 4, in: bytes), subject.starts(with: personPrefix),
                  subject.count > personPrefix.count else { return nil }
            return (String(decoding: id, as: UTF8.self), String(decoding: source, as: UTF8.self),
                    Subject(kind: .person, idBytes: UnsafeBufferPointer(rebasing: subject[personPrefix.count...])))
        }
        guard let found else { return nil }
        batch.put(Keys.logKey(position), sized(line, StoredSize.log))
        batch.put(Keys.subjectKey(found.subject, position), [])
        batch.put(Keys.idempotencyKey(source: found.source, id: found.id), Keys.be(position))
        batch.put(Keys.goldenKey(found.subject), sized(line, StoredSize.golden))
        batch.put(Keys.changeKey(position), sized(line, StoredSize.change))
        return (found.id, found.source)
    }

    private static let personPrefix = Array("person/".utf8)

    /// The first string value of the member `name` (with its quotes) in `bytes`, looked for by
    /// the name's byte at `keyOffset` (``NDJSON/stringMember(_:keyOffset:in:)``).
    private static func member(_ name: StaticString, _ keyOffset: Int, in bytes: UnsafeBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8>? {
        NDJSON.stringMember(UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount), keyOffset: keyOffset, in: bytes)
    }

    /// The sizes in bytes of a new person's log entry, golden record and change record in the
    /// store, after one bulk event (RocksDB's `ldb scan` of a bulk-loaded store): the values
    /// both ceilings write.
    enum StoredSize {
        static let log = 187, golden = 147, change = 131
    }

    /// The five writes of event `n` (position n + 1), about a person the load invents from `n`
    /// as the bulk benchmark's generator does (a valid 公民身份号码, a name, a region).
    static func put(event n: Int, writer: Int, into batch: OrderedWriteBatch) {
        let position = UInt64(n + 1)
        let id = CitizenID.make(region: "330203", birth: birthDate(n), sequence: (n / 16_800) % 1000)
        let subject = Subject(kind: .person, id: id)
        let eventId = "bulk-\(writer)-\(n)"
        let text = #"{"specversion":"1.0","id":"\#(eventId)","source":"gongan","type":"person.updated","subject":"person/\#(id)","time":"2026-11-20T08:00:00+08:00","data":{"name":"批量\#(n)","regionCode":"330203"}}"#
        batch.put(Keys.logKey(position), sized(text, StoredSize.log))
        batch.put(Keys.subjectKey(subject, position), [])
        batch.put(Keys.idempotencyKey(source: "gongan", id: eventId), Keys.be(position))
        batch.put(Keys.goldenKey(subject), sized(#"name 批量\#(n) gongan \#(eventId) \#(position) regionCode 330203 gongan \#(eventId) \#(position) "# + text, StoredSize.golden))
        batch.put(Keys.changeKey(position), sized("person/\(id) \(position) name regionCode " + text, StoredSize.change))
    }

    /// A birth date (yyyyMMdd) that spreads the invented people over fifty years.
    private static func birthDate(_ n: Int) -> String {
        let day = n % 28 + 1, month = (n / 28) % 12 + 1, year = 1950 + (n / 336) % 50
        return String(format: "%04d%02d%02d", year, month, day)
    }

    /// `text`'s UTF-8 bytes, cut or repeated to `count` bytes.
    private static func sized(_ text: String, _ count: Int) -> [UInt8] { sized(text.utf8, count) }

    /// `bytes` cut or repeated to `count` bytes.
    private static func sized(_ bytes: some Collection<UInt8>, _ count: Int) -> [UInt8] {
        guard !bytes.isEmpty else { return [UInt8](repeating: 0, count: count) }
        var out: [UInt8] = []
        out.reserveCapacity(count)
        while out.count < count { out.append(contentsOf: bytes.prefix(count - out.count)) }
        return out
    }
}
