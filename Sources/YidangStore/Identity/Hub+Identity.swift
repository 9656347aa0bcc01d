import Foundation
import JSON
import YidangMatching
import YidangModel
import YidangProjection

/// A crosswalk and the golden record it reads as.
public struct CrosswalkEntry: Sendable, Hashable {
    public var crosswalk: Crosswalk
    public var subject: Subject
    public var json: JSONValue {
        ["source": .string(crosswalk.source), "key": .string(crosswalk.key), "kind": .string(crosswalk.kind.rawValue),
         "subject": .string(subject.description)]
    }
}

/// Why a steward's identity decision was not taken.
public enum IdentityError: Error, CustomStringConvertible {
    case notFound(String)
    /// The decision does not fit the current state; the rejection names the field.
    case invalid(EventRejection)
    public var description: String {
        switch self {
        case .notFound(let what): return "\(what) not found"
        case .invalid(let r): return r.description
        }
    }
}

extension StoreReader {
    /// The golden record `subject` reads as: itself, or the survivor it was merged into.
    public func survivor(of subject: Subject) throws -> Subject {
        var s = subject
        for _ in 0..<64 {
            guard let next = try state(of: s)?.mergedInto else { return s }
            s = next
        }
        return s
    }

    /// Every crosswalk of `kind` (of `source` when given), in key order.
    public func crosswalks(kind: EntityKind, source: String?, key: String? = nil, limit: Int = 100_000) throws -> [CrosswalkEntry] {
        var prefixText = "local/"
        if let source { prefixText += source + "/" + (key ?? "") }
        let prefix = Keys.goldenPrefix(kind, idPrefix: prefixText)
        var out: [CrosswalkEntry] = []
        var pointers: [(Crosswalk, Subject)] = []
        try database.scan(from: prefix, to: Keys.upperBound(prefix)) { _, value in
            let state = try SubjectState(encoded: value)
            guard let c = state.subject.crosswalk, let target = state.mergedInto else { return true }
            if let key, c.key != key { return true }
            pointers.append((Crosswalk(kind: kind, source: c.source, key: c.key), target))
            return pointers.count < limit
        }
        // Records of one golden record point at it alike: followed once each.
        var survivors: [Subject: Subject] = [:]
        for (c, target) in pointers {
            let s: Subject
            if let known = survivors[target] { s = known } else { s = try survivor(of: target); survivors[target] = s }
            out.append(CrosswalkEntry(crosswalk: c, subject: s))
        }
        return out
    }

    /// Review tasks, highest score first.
    public func matchTasks(status: MatchTask.Status?, kind: EntityKind?, limit: Int = 1000) throws -> [MatchTask] {
        var out: [MatchTask] = []
        try database.scan(from: [Keys.matchTask], to: [Keys.matchTask + 1]) { _, value in
            let t = try MatchTask(encoded: value)
            if (status == nil || t.status == status) && (kind == nil || t.kind == kind) { out.append(t) }
            return true
        }
        out.sort { ($0.score, $1.id) > ($1.score, $0.id) }
        return Array(out.prefix(limit))
    }

    public func matchTask(_ id: UInt64) throws -> MatchTask? {
        try database.get(Keys.matchTaskKey(id)).map { try MatchTask(encoded: $0) }
    }

    /// A review task with its two records side by side: each compared attribute's values on
    /// both sides, the comparison level and its weight under `model` (the hub's, see
    /// ``Hub/matchModel(_:)``), and the score now.
    public func matchDetail(_ task: MatchTask, model: MatchModel?) throws -> JSONValue {
        var o = task.json
        let kind = task.kind
        let record = try survivor(of: task.record), candidate = try survivor(of: task.candidate)
        guard let settings = configuration.matching(kind), let model, let a = try state(of: record), let b = try state(of: candidate) else { return .object(o) }
        let attributes = settings.compare.keys.sorted()
        let va = a.heldValues(attributes), vb = b.heldValues(attributes)
        // Common values weigh less here as they did for the matcher: the record's values of
        // attributes with a blocking rule of their own, counted in the index.
        let blocking = BlockingKeys(settings: settings)
        let population: UInt64 = try database.get(IdentityLedger.indexedKey(kind)).map { Keys.readBE($0) } ?? 0
        var shares: [String: [String: Double]] = [:]
        for rule in settings.block where rule.count == 1 {
            for value in va[rule[0]] ?? [] {
                guard let part = blocking.part(value, attribute: rule[0]) else { continue }
                var count = 0
                try database.keys(under: [Keys.blockPrefix(kind, part)], limit: 200) { _, _ in count += 1 }
                shares[rule[0], default: [:]][value] = IdentityLedger.commonShare(entries: count, population: population)
            }
        }
        let score = model.score(va, vb) { attribute, value in shares[attribute]?[value] }
        o["comparisons"] = .array(score.comparisons.map { c in
            ["attribute": .string(c.attribute), "record": .array((va[c.attribute] ?? []).map { .string($0) }),
             "candidate": .array((vb[c.attribute] ?? []).map { .string($0) }), "level": .string(c.level.label),
             "weight": .number(String(format: "%.2f", c.weight))]
        })
        o["scoreNow"] = .number(String(format: "%.4f", score.probability))
        o["recordNow"] = .string(record.description)
        o["candidateNow"] = .string(candidate.description)
        return .object(o)
    }

    /// A golden record's events: its own and those of every record it holds (local records,
    /// absorbed records), in log order.
    public func recordHistory(of subject: Subject) throws -> [Event] {
        let members = try state(of: subject)?.members ?? []
        guard !members.isEmpty else { return try history(of: subject) }
        var positions = Set(try self.positions(of: subject))
        for m in members { positions.formUnion(try self.positions(of: m)) }
        return try events(at: positions.sorted())
    }
}

extension Hub {
    /// The model the matcher scores `kind` with: trained weights where they fit the
    /// configuration, else its defaults.
    public func matchModel(_ kind: EntityKind) -> MatchModel? {
        MatchModels.model(kind, trained: matchModels, configuration: configuration)
    }

    /// Confirms a review task: its two records are one (merged, the survivor by the rule).
    public func confirmMatch(_ task: UInt64, steward: String, note: String?) async throws -> MatchTask {
        try await decideTask(task, .merge, steward: steward, note: note)
    }

    /// Rejects a review task: the two records are different and never proposed again.
    public func rejectMatch(_ task: UInt64, steward: String, note: String?) async throws -> MatchTask {
        try await decideTask(task, .distinct, steward: steward, note: note)
    }

    private func decideTask(_ id: UInt64, _ action: IdentityDecision.Action, steward: String, note: String?) async throws -> MatchTask {
        guard let task = try reader.matchTask(id) else { throw IdentityError.notFound("review task \(id)") }
        let d = IdentityDecision(action: action, into: task.candidate, from: task.record, candidate: task.candidate, task: id, actor: steward, note: note)
        try await decide(d, data: ["task": JSONValue(id)])
        guard let after = try reader.matchTask(id) else { throw IdentityError.notFound("review task \(id)") }
        return after
    }

    /// Merges two golden records by hand; returns the survivor (a national identifier, else
    /// the older hub identifier), whichever way round they were named.
    public func merge(_ from: Subject, into: Subject, steward: String, note: String?) async throws -> Subject {
        guard from != into else { throw IdentityError.invalid(EventRejection("into", .invalidSubject, "a record cannot be merged into itself")) }
        try await decide(IdentityDecision(action: .merge, into: into, from: from, actor: steward, note: note),
                         data: ["from": .string(from.description), "into": .string(into.description)])
        return try reader.survivor(of: into)
    }

    /// Takes a department's record out of its golden record into a new one; returns it.
    public func unmerge(_ crosswalk: Crosswalk, steward: String, note: String?) async throws -> Subject {
        guard try reader.state(of: crosswalk.subject)?.mergedInto != nil else {
            throw IdentityError.invalid(EventRejection("key", .invalidField,
                                                       "\(crosswalk.source) has no \(crosswalk.kind.rawValue) record \(crosswalk.key)"))
        }
        // The writer allocates the new hub identifier.
        try await decide(IdentityDecision(action: .unmerge, into: Subject.hub(kind: crosswalk.kind, number: 0), record: crosswalk.subject,
                                          actor: steward, note: note),
                         data: ["source": .string(crosswalk.source), "key": .string(crosswalk.key)])
        return try reader.survivor(of: crosswalk.subject)
    }

    private func decide(_ d: IdentityDecision, data: JSONObject) async throws {
        guard !d.actor.isEmpty else { throw IdentityError.invalid(EventRejection("steward", .missingField, "the steward's name is required")) }
        var data = data
        data["steward"] = .string(d.actor)
        if let n = d.note { data["note"] = .string(n) }
        let event = Steward.event(type: d.eventType, subject: d.into, data: data, body: .identity(d), now: EventStore.now())
        if case .rejected(let r)? = try await sequencer.append([event], isolated: d.action == .unmerge).first { throw IdentityError.invalid(r) }
    }
}
