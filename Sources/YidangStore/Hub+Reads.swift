import JSON
import YidangModel
import YidangProjection

extension StoreReader {
    /// The golden record as the API and the CLI show it: the current record with
    /// its links, or — with `asOf` / `knownAt` — a replay of the subject's events without
    /// links (they are current facts). nil when nothing is known about the subject then.
    public func goldenRecord(of subject: Subject, asOf: Int64?, knownAt: Int64?, lineage: Bool) throws -> JSONValue? {
        // An absorbed record reads as its survivor, saying so.
        let survivor = try self.survivor(of: subject)
        let timeTravel = asOf != nil || knownAt != nil
        let state = timeTravel ? try state(of: survivor, asOf: asOf ?? Int64.max, knownAt: knownAt) : try state(of: survivor)
        guard let state, state.eventCount > 0 else { return nil }
        let links = timeTravel ? [] : try links(of: survivor)
        guard case .object(var o) = state.goldenRecordJSON(configuration: configuration, lineage: lineage, links: links) else { return nil }
        if survivor != subject { o["mergedInto"] = .string(survivor.description) }
        return .object(o)
    }
}

extension ConflictFilter {
    /// A filter from query parameters (`status`, `kind`, `attribute`, `source`, `limit`).
    /// - Throws: ``EventRejection`` naming the parameter and the reason.
    public init(query: [String: String]) throws(EventRejection) {
        self.init()
        if let s = query["status"] {
            guard let st = Status(rawValue: s) else { throw EventRejection("status", .invalidField, "must be open, resolved or all, got \"\(s)\"") }
            status = st
        }
        if let k = query["kind"] {
            guard let kind = EntityKind(rawValue: k) else { throw EventRejection("kind", .invalidField, "must be person or enterprise, got \"\(k)\"") }
            self.kind = kind
        }
        attribute = query["attribute"]
        source = query["source"]
        if let l = query["limit"] {
            guard let n = Int(l), (1...100_000).contains(n) else { throw EventRejection("limit", .invalidField, "must be 1…100000, got \"\(l)\"") }
            limit = n
        }
    }
}

/// Why a steward decision was not taken.
public enum SettleError: Error, CustomStringConvertible {
    case notFound(UInt64)
    /// The conflict is already resolved.
    case notOpen(UInt64)
    /// The decision does not fit the conflict (a bad pin value, a source that is no candidate…).
    case invalid(EventRejection)

    public var description: String {
        switch self {
        case .notFound(let id): return "no conflict \(id)"
        case .notOpen(let id): return "conflict \(id) is already resolved"
        case .invalid(let r): return r.description
        }
    }
}

extension Hub {
    /// Records a steward's decision on a conflict as an event and returns the settled
    /// conflict. The writer checks the decision against the state it applies to, so two
    /// stewards racing on one conflict cannot both settle it.
    public func settle(conflict id: UInt64, action: StewardDecision.Action, value: String?, source: String?,
                       steward: String, note: String?, force: Bool = false) async throws -> Conflict {
        guard let conflict = try reader.conflict(id: id) else { throw SettleError.notFound(id) }
        guard conflict.status == .open else { throw SettleError.notOpen(id) }
        let event: Event
        do {
            event = try Steward.decision(conflict: conflict, action: action, value: value, source: source, steward: steward,
                                         note: note, force: force, configuration: configuration, now: EventStore.now())
        } catch let r as EventRejection { throw SettleError.invalid(r) }
        if case .rejected(let r)? = try await sequencer.append([event]).first {
            throw r.code == .conflictNotOpen ? SettleError.notOpen(id) : SettleError.invalid(r)
        }
        guard let settled = try reader.conflict(id: id) else { throw SettleError.notFound(id) }
        return settled
    }
}
