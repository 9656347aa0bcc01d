import JSON
import YidangModel

/// Who offers events to the hub, for authorization and for charging rejections.
public struct Publisher: Sendable, Hashable {
    /// The department the caller may publish as; nil: any configured department (an admin
    /// token, a local import by the operator).
    public var department: String?
    public init(department: String?) { self.department = department }
    /// The operator or an admin: may publish as any department.
    public static let anyDepartment = Publisher(department: nil)
}

/// An event as admitted (or refused) before the writer sees it, and the department a
/// refusal is charged to. Small on purpose: a bulk load makes one per line.
public struct Admission: Sendable {
    public var result: Result<Event, EventRejection>
    /// The publisher's own department when it is bound to one; for a refusal without one,
    /// the document's source when it is a configured department.
    let charged: String?
    /// For a refusal: the `id` and `source` the document claimed, when they could be read.
    let claimedId: String?
    let claimedSource: String?

    /// Whose quality figures a rejection counts against: the publisher's own department
    /// when it is bound to one, else the event's source when it is a configured department,
    /// else "(unknown)".
    public var department: String {
        if let charged { return charged }
        if case .success(let e) = result { return e.source }
        return "(unknown)"
    }
    /// The event's `id` as published, when one could be read (for per-event answers).
    public var id: String? {
        if case .success(let e) = result { return e.id }
        return claimedId
    }
    /// The event's `source` as published, when one could be read.
    public var source: String? {
        if case .success(let e) = result { return e.source }
        return claimedSource
    }
}

/// Finds the golden record an event is about (the identity resolution step of docs/ARCHITECTURE.md, "Ingest").
///
/// Guarantees: returns the event with the subject it is stored under; the same event and
/// the same store state give the same subject (a replica resolves as every other does).
/// Throws: an ``EventRejection`` naming the field when the subject cannot be resolved.
public protocol SubjectResolver: Sendable {
    func resolve(_ event: Event) throws(EventRejection) -> Event
}

/// Subjects named by a valid national identifier (公民身份号码 / 统一社会信用代码) are their
/// own golden record: the validator has already checked and normalized them.
public struct NationalIdentifierResolver: SubjectResolver {
    public init() {}
    public func resolve(_ event: Event) throws(EventRejection) -> Event { event }
}

/// The one path by which events enter the hub, for `POST /v1/events`, `yidang import` and
/// remote import alike: parse → validate → resolve the subject → authorize the publisher's
/// department → submit to the single writer → per-event outcomes → rejection counts.
///
/// Framing (an HTTP body's content mode, a file's lines) is the caller's; everything from
/// a JSON document or an NDJSON line on is here, so the same event gets the same answer
/// whichever way it came.
public struct IngestPipeline: Sendable {
    public let hub: Hub
    public let resolver: any SubjectResolver
    /// Copied once: read for every event.
    let validator: EventValidator
    let configuration: Configuration

    public init(hub: Hub, resolver: any SubjectResolver = NationalIdentifierResolver()) {
        self.hub = hub
        self.resolver = resolver
        self.validator = hub.validator
        self.configuration = hub.configuration
    }

    /// Validates, resolves and authorizes one parsed document.
    public func admit(_ document: JSONValue, by publisher: Publisher, now: Int64) -> Admission {
        let outcome: Result<Event, EventRejection>
        do throws(EventRejection) {
            outcome = .success(try authorize(try resolver.resolve(try validator.validate(document, now: now)), by: publisher))
        } catch {
            outcome = .failure(error)
        }
        return admission(outcome, by: publisher, claimed: { document })
    }

    /// The object keys events are expected to carry, for parsing a body before ``admit(_:by:now:)``.
    public var expectedKeys: JSONKeyTable { validator.keys }

    /// Parses, validates, resolves and authorizes one NDJSON line.
    public func admit(line: some Collection<UInt8>, by publisher: Publisher, now: Int64) -> Admission {
        let document: JSONValue
        do { document = try JSONParser.parse(line, keys: validator.keys) } catch {
            return refuse(EventRejection("(line)", .malformedJSON, "not valid JSON: \(error)"), by: publisher)
        }
        return admit(document, by: publisher, now: now)
    }

    /// A document refused before it could be read (a malformed line).
    public func refuse(_ rejection: EventRejection, by publisher: Publisher) -> Admission {
        admission(.failure(rejection), by: publisher, claimed: { .null })
    }

    func authorize(_ event: Event, by publisher: Publisher) throws(EventRejection) -> Event {
        if let own = publisher.department, event.source != own {
            throw EventRejection("source", .forbiddenSource, "this token publishes as \"\(own)\", not as \"\(event.source)\"")
        }
        return event
    }

    /// `claimed` reads the document's own `id` and `source` for a refusal (only then: an
    /// admitted event carries them).
    private func admission(_ result: Result<Event, EventRejection>, by publisher: Publisher, claimed: () -> JSONValue) -> Admission {
        if case .success = result {
            return Admission(result: result, charged: publisher.department, claimedId: nil, claimedSource: nil)
        }
        let doc = claimed()
        let source = doc["source"]?.stringValue
        let configured = source.flatMap { configuration.departments[$0] != nil ? $0 : nil }
        return Admission(result: result, charged: publisher.department ?? configured, claimedId: doc["id"]?.stringValue, claimedSource: source)
    }

    /// Hands the admitted events to the writer behind those already submitted, without
    /// waiting (a bulk loader validates its next chunk meanwhile).
    public func submit(_ admissions: [Admission]) -> PendingIngest {
        // Only the admitted events go to the writer; the refusals stay in `admissions`.
        let events = admissions.compactMap { try? $0.result.get() }
        return PendingIngest(admissions: admissions, ticket: events.isEmpty ? nil : hub.sequencer.submit(events))
    }

    /// Submits and waits: each admission's fate, in order, once the accepted events are
    /// durable, with the rejections counted.
    /// - Throws: what the writer's commit threw (then nothing of the group was stored).
    public func ingest(_ admissions: [Admission]) async throws -> [AppendResult] {
        let results = try await submit(admissions).results()
        try await recordRejections(admissions, results)
        return results
    }

    /// Admits `count` documents (`admit(i)` makes the i-th's admission) in pieces of
    /// `pieceSize`, validated side by side on the cooperative pool, hands them to the writer
    /// as one append, and waits for every event's fate, in order, with the rejections counted.
    ///
    /// A large body's validation then takes every core the writer leaves, instead of one
    /// thread reading it all. One append, not one per piece: the writer builds a large
    /// append alone while callers wait (``EventStore``), so one client's request is written
    /// while another's is folded; pieces handed over one by one were grouped with another
    /// client's, and both requests were answered together.
    /// - Throws: what the writer's commit threw (then none of the body's events was stored).
    public func ingest(count: Int, pieceSize: Int = 250, admit: @escaping @Sendable (Int) -> Admission) async throws -> (admissions: [Admission], results: [AppendResult]) {
        let pieces = stride(from: 0, to: count, by: max(1, pieceSize)).map { $0..<min(count, $0 + max(1, pieceSize)) }
        let admissions: [Admission]
        if pieces.count == 1 {
            admissions = pieces[0].map(admit)
        } else {
            var admitted = [[Admission]](repeating: [], count: pieces.count)
            await withTaskGroup(of: (Int, [Admission]).self) { group in
                for (i, range) in pieces.enumerated() { group.addTask { (i, range.map(admit)) } }
                for await (i, piece) in group { admitted[i] = piece }
            }
            admissions = admitted.flatMap { $0 }
        }
        return (admissions, try await ingest(admissions))
    }

    /// Adds the rejections among `results` (those of `admissions`) to the departments'
    /// quality figures.
    /// - Throws: when the counts cannot be written (a quality figure may not silently drift).
    public func recordRejections(_ admissions: [Admission], _ results: [AppendResult]) async throws {
        var counts = RejectionCounts()
        counts.add(admissions, results)
        try await recordRejections(counts)
    }

    /// Adds `counts` to the departments' quality figures.
    /// - Throws: when the counts cannot be written.
    public func recordRejections(_ counts: RejectionCounts) async throws {
        if !counts.byDepartment.isEmpty { try await hub.sequencer.recordRejections(counts.byDepartment) }
    }
}

/// Rejections by department and reason, gathered before they are written.
public struct RejectionCounts: Sendable {
    public private(set) var byDepartment: [String: [String: UInt64]] = [:]
    public init() {}
    /// Counts the rejections among `results`, charged as `admissions` say.
    public mutating func add(_ admissions: [Admission], _ results: [AppendResult]) {
        for (a, r) in zip(admissions, results) {
            if case .rejected(let rejection) = r { byDepartment[a.department, default: [:]][rejection.code.rawValue, default: 0] += 1 }
        }
    }
}

/// Admitted events in the writer's queue.
public struct PendingIngest: Sendable {
    public let admissions: [Admission]
    let ticket: CommitTicket?

    /// Every admission's fate, in order (a refusal's rejection, or what the writer did),
    /// once the accepted events are durable.
    /// - Throws: what the writer's commit threw.
    public func results() async throws -> [AppendResult] {
        let appended = try await ticket?.results ?? []
        var next = 0
        return admissions.map { a in
            switch a.result {
            case .failure(let r): return .rejected(r)
            case .success:
                defer { next += 1 }
                return appended[next]
            }
        }
    }
}
