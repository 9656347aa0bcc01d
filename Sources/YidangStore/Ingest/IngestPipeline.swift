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
/// refusal is charged to.
public struct Admission: Sendable {
    public var result: Result<Event, EventRejection>
    /// Whose quality figures a rejection counts against: the publisher's own department
    /// when it is bound to one, else the event's source when it is a configured department,
    /// else "(unknown)".
    public var department: String
    /// The event's `id` as published, when one could be read (for per-event answers).
    public var id: String?
    /// The event's `source` as published, when one could be read.
    public var source: String?
}

/// The fate of one offered event, in submission order.
public struct IngestOutcome: Sendable {
    public var result: AppendResult
    public var department: String
    public var id: String?
    public var source: String?
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

    public init(hub: Hub, resolver: any SubjectResolver = NationalIdentifierResolver()) {
        self.hub = hub
        self.resolver = resolver
    }

    /// Validates, resolves and authorizes one parsed document.
    public func admit(_ document: JSONValue, by publisher: Publisher, now: Int64) -> Admission {
        let outcome: Result<Event, EventRejection>
        do throws(EventRejection) {
            outcome = .success(try authorize(try resolver.resolve(try hub.validator.validate(document, now: now)), by: publisher))
        } catch {
            outcome = .failure(error)
        }
        return admission(outcome, by: publisher, claimed: { document })
    }

    /// Parses, validates, resolves and authorizes one NDJSON line.
    public func admit(line: some Collection<UInt8>, by publisher: Publisher, now: Int64) -> Admission {
        let document: JSONValue
        do { document = try JSONParser.parse(line) } catch {
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
        switch result {
        case .success(let e):
            return Admission(result: result, department: publisher.department ?? e.source, id: e.id, source: e.source)
        case .failure:
            let doc = claimed()
            let source = doc["source"]?.stringValue
            let configured = source.flatMap { hub.configuration.departments[$0] != nil ? $0 : nil }
            return Admission(result: result, department: publisher.department ?? configured ?? "(unknown)",
                             id: doc["id"]?.stringValue, source: source)
        }
    }

    /// Hands the admitted events to the writer behind those already submitted, without
    /// waiting (a bulk loader validates its next chunk meanwhile).
    public func submit(_ admissions: [Admission]) -> PendingIngest {
        // Only the admitted events go to the writer; the refusals stay in `admissions`.
        let events = admissions.compactMap { try? $0.result.get() }
        return PendingIngest(admissions: admissions, ticket: events.isEmpty ? nil : hub.store.submit(events))
    }

    /// Admits, submits and waits: each document's outcome once the accepted ones are
    /// durable, with the rejections counted.
    /// - Throws: what the writer's commit threw (then nothing of the group was stored).
    public func ingest(_ admissions: [Admission]) async throws -> [IngestOutcome] {
        let outcomes = try await submit(admissions).outcomes()
        try await recordRejections(outcomes)
        return outcomes
    }

    /// Adds the rejections among `outcomes` to the departments' quality figures.
    /// - Throws: when the counts cannot be written (a quality figure may not silently drift).
    public func recordRejections(_ outcomes: some Sequence<IngestOutcome>) async throws {
        var counts: [String: [String: UInt64]] = [:]
        for o in outcomes {
            if case .rejected(let r) = o.result { counts[o.department, default: [:]][r.code.rawValue, default: 0] += 1 }
        }
        if !counts.isEmpty { try await hub.store.recordRejections(counts) }
    }
}

/// Admitted events in the writer's queue.
public struct PendingIngest: Sendable {
    let admissions: [Admission]
    let ticket: CommitTicket?

    /// Every admission's outcome, in order, once the accepted events are durable.
    /// - Throws: what the writer's commit threw.
    public func outcomes() async throws -> [IngestOutcome] {
        let appended = try await ticket?.results ?? []
        var next = 0
        return admissions.map { a in
            let result: AppendResult
            switch a.result {
            case .failure(let r): result = .rejected(r)
            case .success:
                result = appended[next]
                next += 1
            }
            return IngestOutcome(result: result, department: a.department, id: a.id, source: a.source)
        }
    }
}
