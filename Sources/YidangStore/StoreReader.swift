import JSON
import RocksDB
import YidangModel
import YidangProjection

/// Filters for listing conflicts.
public struct ConflictFilter: Sendable {
    public enum Status: String, Sendable { case open, resolved, all }
    public var status: Status = .open
    public var kind: EntityKind?
    public var attribute: String?
    /// Only conflicts where this department is a candidate.
    public var source: String?
    public var subject: Subject?
    public var limit: Int = 1000
    /// Only conflicts opened at or before this ingest time (µs).
    public var openedBefore: Int64?
    public init() {}
}

/// Per-department data quality figures.
public struct DepartmentQuality: Sendable, Hashable {
    public var department: String
    public var accepted: UInt64 = 0
    public var rejected: [String: UInt64] = [:]
    public var conflictsOpened: UInt64 = 0
    public var corrections: UInt64 = 0
    /// Records without a national identifier: linked by the matcher, sent to review, new.
    public var matched: UInt64 = 0
    public var sentToReview: UInt64 = 0
    public var newRecords: UInt64 = 0
    /// Publication delays: bucket b counts delays in [2^b, 2^(b+1)) seconds.
    public var delayBuckets: [Int: UInt64] = [:]
    /// Median delay between effective time and publication, in seconds (bucket midpoint), or nil.
    public var medianDelaySeconds: Double? {
        let total = delayBuckets.values.reduce(0, +)
        guard total > 0 else { return nil }
        var seen: UInt64 = 0
        for b in delayBuckets.keys.sorted() {
            seen += delayBuckets[b] ?? 0
            if seen * 2 >= total { return b == 0 ? 1 : 1.5 * Double(UInt64(1) << UInt64(b)) }
        }
        return nil
    }
    /// "~3h", "~2d" …
    public static func humanDuration(_ seconds: Double) -> String {
        switch seconds {
        case ..<120: return "~\(Int(seconds))s"
        case ..<7200: return "~\(Int(seconds / 60))m"
        case ..<172_800: return "~\(Int(seconds / 3600))h"
        default: return "~\(Int(seconds / 86400))d"
        }
    }
    public var rejectedTotal: UInt64 { rejected.values.reduce(0, +) }
}

extension DepartmentQuality {
    /// The `GET /v1/quality` shape of one department.
    public func json(configuration: Configuration) -> JSONValue {
        var reasons = JSONObject()
        for (k, v) in rejected.sorted(by: { $0.key < $1.key }) { reasons[k] = JSONValue(v) }
        return ["department": .string(department), "name": JSONValue(configuration.departments[department]),
                "accepted": JSONValue(accepted), "rejected": JSONValue(rejectedTotal), "rejectedByReason": .object(reasons),
                "conflictsOpened": JSONValue(conflictsOpened), "corrections": JSONValue(corrections),
                "recordsMatched": JSONValue(matched), "recordsSentToReview": JSONValue(sentToReview), "recordsNew": JSONValue(newRecords),
                "medianDelaySeconds": medianDelaySeconds.map { .number(String(Int($0))) } ?? .null,
                "medianDelay": medianDelaySeconds.map { .string(DepartmentQuality.humanDuration($0)) } ?? .null]
    }
}

/// Reads the log and the derived stores. Safe from any thread; sees committed batches only.
public struct StoreReader: Sendable {
    public let database: Database
    public let configuration: Configuration

    public init(database: Database, configuration: Configuration) {
        self.database = database
        self.configuration = configuration
    }

    // MARK: Log

    /// The last stored position, 0 when the log is empty.
    public func headPosition() throws -> UInt64 {
        var head: UInt64 = 0
        try database.scan(from: [Keys.log], to: [Keys.log + 1], reverse: true) { key, _ in
            head = Keys.readBE(key.dropFirst()); return false
        }
        return head
    }

    /// What publishing `event` again answers, when its (source, id) is stored: a duplicate
    /// at the stored position if the content is the same, else refused as `id-reused`; nil
    /// when it is not stored.
    /// - Throws: when the store cannot be read.
    public func repeatAnswer(for event: Event) throws -> AppendResult? {
        guard let p = try position(source: event.source, id: event.id), let stored = try self.event(at: p) else { return nil }
        return EventStore.repeatResult(event, of: stored, at: p)
    }

    public func event(at position: UInt64) throws -> Event? {
        try database.get(Keys.logKey(position)).map { try Event(encoded: $0) }
    }

    /// Calls `body` for every event from `after + 1` on, in order (without their payloads
    /// when `payload` is false: see ``Event/init(encoded:payload:)``).
    public func forEachEvent(after: UInt64 = 0, payload: Bool = true, _ body: (Event) throws -> Void) throws {
        try forEachEvent(after: after, through: nil, payload: payload, body)
    }

    /// Like ``forEachEvent(after:payload:_:)``, stopping after position `last` (nil: the head).
    public func forEachEvent(after: UInt64, through last: UInt64?, payload: Bool = true, _ body: (Event) throws -> Void) throws {
        let names = configuration.names()
        let upper = last.flatMap { $0 < UInt64.max ? Keys.logKey($0 + 1) : nil } ?? [Keys.log + 1]
        // The log is read once, front to back: its blocks would only evict golden records
        // from the block cache.
        try database.scanValues(from: Keys.logKey(after + 1), to: upper, cachingBlocks: false) { value in
            try body(try Event(encoded: value, payload: payload, names: names)); return true
        }
    }

    /// Positions of a subject's events, in log order.
    public func positions(of subject: Subject) throws -> [UInt64] {
        let prefix = Keys.subjectPrefix(subject)
        var out: [UInt64] = []
        try database.scan(from: prefix, to: Keys.upperBound(prefix)) { key, value in
            out += try SubjectRun.positions(key: key, value: value); return true
        }
        return out
    }

    /// A subject's events, in log order.
    public func history(of subject: Subject) throws -> [Event] {
        try events(at: positions(of: subject))
    }

    /// The events at `positions`, in the order given (a position the log lacks is skipped).
    public func events(at positions: some Sequence<UInt64>) throws -> [Event] {
        try positions.compactMap { try event(at: $0) }
    }

    /// The stored position of (`source`, `id`), if any.
    public func position(source: String, id: String) throws -> UInt64? {
        try database.get(Keys.idempotencyKey(source: source, id: id)).map { Keys.readBE($0) }
    }

    // MARK: Golden records

    public func state(of subject: Subject) throws -> SubjectState? {
        try database.get(Keys.goldenKey(subject)).map { try SubjectState(encoded: $0) }
    }

    /// The record as of effective time `asOf` (facts with `time` ≤ asOf), optionally as
    /// known at `knownAt` (events ingested ≤ knownAt), rebuilt from the subject's events.
    public func state(of subject: Subject, asOf: Int64?, knownAt: Int64?) throws -> SubjectState? {
        let events = try recordHistory(of: subject).filter { e in
            if e.identityDecision != nil { return false }
            let effective: Int64
            if case .steward = e.body { effective = e.ingestTime } else { effective = e.time }
            return (asOf.map { effective <= $0 } ?? true) && (knownAt.map { e.ingestTime <= $0 } ?? true)
        }
        guard !events.isEmpty else { return nil }
        let projector = Projector(configuration: configuration, replayingSubject: true)
        var state = SubjectState(subject: subject)
        var ledger = InMemoryConflictLedger()
        for e in events {
            // A steward decision with nothing to settle at this point of the replay (as-of a
            // time before its conflict opened) is skipped: the live writer applied it to a
            // later state, which this read does not show.
            guard let outcome = try? projector.apply(e.subject == subject ? e : e.resolved(to: subject), to: &state, ledger: &ledger) else { continue }
            ledger.store(outcome)
        }
        return state
    }

    /// Links of a person (to enterprises) or of an enterprise (to persons).
    public func links(of subject: Subject) throws -> [Link] {
        let prefix = subject.kind == .person ? Keys.personLinkPrefix(subject.id) : Keys.enterpriseLinkPrefix(subject.id)
        var out: [Link] = []
        try database.scan(from: prefix, to: Keys.upperBound(prefix)) { key, _ in
            let rest = key.dropFirst(prefix.count).split(separator: 0, omittingEmptySubsequences: false)
            guard rest.count == 2 else { return true }
            let other = String(decoding: rest[0], as: UTF8.self), role = String(decoding: rest[1], as: UTF8.self)
            if subject.kind == .person {
                out.append(Link(person: subject, enterprise: Subject(kind: .enterprise, id: other), role: role))
            } else {
                out.append(Link(person: Subject(kind: .person, id: other), enterprise: subject, role: role))
            }
            return true
        }
        return out
    }

    // MARK: Conflicts

    public func conflict(id: UInt64) throws -> Conflict? {
        try database.get(Keys.conflictKey(id)).map { try Conflict(encoded: $0) }
    }

    /// Conflicts matching `filter`, oldest first.
    public func conflicts(_ filter: ConflictFilter) throws -> [Conflict] {
        var out: [Conflict] = []
        func consider(_ c: Conflict) -> Bool {
            if filter.status == .resolved && c.status != .resolved { return true }
            if filter.status == .open && c.status != .open { return true }
            if let k = filter.kind, c.subject.kind != k { return true }
            if let a = filter.attribute, c.attribute != a { return true }
            if let s = filter.source, !c.candidates.contains(where: { $0.source == s }) { return true }
            if let s = filter.subject, c.subject != s { return true }
            if let t = filter.openedBefore, c.openedTime > t { return true }
            out.append(c)
            return out.count < filter.limit
        }
        if filter.status == .open {
            try database.scan(from: [Keys.openConflict], to: [Keys.openConflict + 1]) { key, _ in
                guard let c = try conflict(id: Keys.readBE(key.dropFirst())) else { return true }
                return consider(c)
            }
        } else {
            try database.scan(from: [Keys.conflict], to: [Keys.conflict + 1]) { _, value in
                consider(try Conflict(encoded: value))
            }
        }
        return out
    }

    public func openConflictCount() throws -> Int {
        var n = 0
        try database.scan(from: [Keys.openConflict], to: [Keys.openConflict + 1]) { _, _ in n += 1; return true }
        return n
    }

    // MARK: Change feed

    public func changeHead() throws -> UInt64 {
        try database.get(Keys.derivedMetaKey("changeHead")).map { Keys.readBE($0) } ?? 0
    }

    /// Change records with position > `after`, in order.
    public func changes(after: UInt64, limit: Int) throws -> [ChangeRecord] {
        var out: [ChangeRecord] = []
        try database.scan(from: Keys.changeKey(after + 1), to: [Keys.change + 1]) { _, value in
            out.append(try ChangeRecord(encoded: value))
            return out.count < limit
        }
        return out
    }

    // MARK: Quality

    public func quality() throws -> [DepartmentQuality] {
        var byDept: [String: DepartmentQuality] = [:]
        for d in configuration.departments.keys { byDept[d] = DepartmentQuality(department: d) }
        try database.scan(from: [Keys.quality], to: [Keys.quality + 1]) { key, value in
            let parts = key.dropFirst().split(separator: 0, omittingEmptySubsequences: false)
            guard parts.count == 2 else { return true }
            let d = String(decoding: parts[0], as: UTF8.self), m = String(decoding: parts[1], as: UTF8.self)
            var q = byDept[d] ?? DepartmentQuality(department: d)
            let n = Keys.readBE(value)
            switch m {
            case "accepted": q.accepted = n
            case "conflictsOpened": q.conflictsOpened = n
            case "corrections": q.corrections = n
            case "matched": q.matched = n
            case "sentToReview": q.sentToReview = n
            case "newRecords": q.newRecords = n
            default:
                if m.hasPrefix("delay."), let b = Int(m.dropFirst(6)) { q.delayBuckets[b] = n }
            }
            byDept[d] = q
            return true
        }
        try database.scan(from: [Keys.rejections], to: [Keys.rejections + 1]) { key, value in
            let parts = key.dropFirst().split(separator: 0, omittingEmptySubsequences: false)
            guard parts.count == 2 else { return true }
            let d = String(decoding: parts[0], as: UTF8.self), r = String(decoding: parts[1], as: UTF8.self)
            var q = byDept[d] ?? DepartmentQuality(department: d)
            q.rejected[r] = Keys.readBE(value)
            byDept[d] = q
            return true
        }
        return byDept.values.sorted { $0.department < $1.department }
    }
}
