import Foundation
import JSON
import YidangMatching
import YidangModel
import YidangProjection

/// Identity resolution on arrival (docs/ARCHITECTURE.md, "Identity resolution"): the writer
/// asks, for each event it is about to append, which identity decisions go before it. The
/// matcher's decisions are made here, once, against the state the writer has built so far
/// (the group's earlier events included), and stored as events; a replay applies them and
/// never matches again, so rebuild reproduces every cluster and changing thresholds or
/// weights never rewrites history.
extension ProjectionWriter {
    /// The matcher's decisions to append before `event` (positions from `position` on) and
    /// the event to append (a steward's decision completed), or nil for the event alone as
    /// it is (every event about a national identifier).
    /// - Throws: ``EventRejection`` for a decision or record that does not fit the current
    ///   state (nothing is then appended for it).
    func identityEvents(for event: Event, at position: UInt64, now: Int64) throws -> (decisions: [Event], event: Event)? {
        if event.isIdentityDecision, let d = event.identityDecision { return ([], try completed(d, of: event)) }
        guard event.subject.isLocal else { return nil }
        let record = event.subject
        let identified = try identifier(in: event)
        if let pointer = try peekState(record).mergedInto {
            // A known crosswalk: its golden record, unless the record now names a national
            // identifier whose golden record is another one, or gives it values with which it
            // matches another.
            guard let target = identified else {
                return try reevaluation(of: survivor(of: pointer), for: event, at: position, now: now).map { ([$0], event) }
            }
            let mine = try survivor(of: pointer), theirs = try survivor(of: target)
            if mine == theirs { return nil }
            guard mine.hubNumber != nil else {
                throw EventRejection("data.\(record.kind.traits.dataIdentifier)", .invalidIdentifier,
                                     "\(record.publishedText) of \(event.source) belongs to \(mine), not \(target); a steward unmerges it first")
            }
            let d = IdentityDecision(action: .merge, into: theirs, from: mine, actor: Configuration.matcherSource,
                                     note: "\(record.publishedText) of \(event.source) names \(target)")
            return ([decisionEvent(d, at: position, now: now, data: [:])], event)
        }
        if let target = identified {
            let golden = try survivor(of: target)
            let exists = try peekState(golden).eventCount > 0
            let d = IdentityDecision(action: exists ? .link : .create, into: golden, record: record, score: 1_000_000, actor: Configuration.matcherSource,
                                     note: "carries \(target.kind.traits.dataIdentifier)")
            return ([decisionEvent(d, at: position, now: now, data: ["rule": "identifier"])], event)
        }
        return ([try match(event, at: position, now: now)], event)
    }

    /// The national identifier a local record carries in `data`, if any.
    private func identifier(in event: Event) throws -> Subject? {
        guard case .string(let raw)? = event.data[event.subject.kind.traits.dataIdentifier] else { return nil }
        return try Subject(identifier: raw, kind: event.subject.kind, field: "data.\(event.subject.kind.traits.dataIdentifier)")
    }

    /// Matches a new local record against the golden records its blocking keys find.
    private func match(_ event: Event, at position: UInt64, now: Int64) throws -> Event {
        let kind = event.subject.kind
        var values: [String: [String]] = [:]
        if case .assert(let list) = event.body { for a in list { values[a.attribute, default: []].append(a.value) } }
        let best = try bestCandidate(for: values, kind: kind)
        let settings = identity.settings[kind]
        let data = Self.evidence(best)
        let ppm = best.map { Self.ppm($0.score) }
        if let best, let settings, best.score.probability >= settings.link {
            return decisionEvent(IdentityDecision(action: .link, into: best.subject, record: event.subject, score: ppm, actor: Configuration.matcherSource),
                                 at: position, now: now, data: data)
        }
        let fresh = Subject.hub(kind: kind, number: identity.nextHub)
        var d = IdentityDecision(action: .create, into: fresh, record: event.subject, score: ppm, actor: Configuration.matcherSource)
        if let best, let settings, best.score.probability >= settings.review {
            d.task = identity.nextTask
            d.candidate = best.subject
        }
        return decisionEvent(d, at: position, now: now, data: data)
    }

    /// Matches a golden record without a national identifier again when an event of one of
    /// its records brings values it did not hold (a phone, a birth date): with them it may
    /// now be someone else's record. A candidate at `link` or above absorbs it (or is
    /// absorbed: the survivor keeps a national identifier, else the older hub identifier);
    /// records a steward declared different, or unmerged, are never merged again. Below
    /// `link` nothing happens: a review task is opened only when a record first arrives.
    /// Returns the merge to append before `event`, or nil.
    private func reevaluation(of golden: Subject, for event: Event, at position: UInt64, now: Int64) throws -> Event? {
        let kind = golden.kind
        guard golden.hubNumber != nil, let settings = identity.settings[kind], case .assert(let list) = event.body else { return nil }
        let state = try peekState(golden)
        var values = state.heldValues(settings.compare.keys)
        var gained = false
        for a in list where settings.compare[a.attribute] != nil && !(values[a.attribute] ?? []).contains(a.value) {
            values[a.attribute, default: []].append(a.value)
            gained = true
        }
        guard gained else { return nil }
        // Declared different from a record since absorbed: different from its survivor too.
        let separated = try (state.identity?.distinct ?? []).map { try survivor(of: $0) }
        guard let best = try bestCandidate(for: values, kind: kind, excluding: [golden] + separated),
              best.score.probability >= settings.link else { return nil }
        let (absorbed, kept) = Self.survivorship(golden, best.subject)
        let note = "\(event.subject.publishedText) of \(event.source) gave \(golden) new values"
        let d = IdentityDecision(action: .merge, into: kept, from: absorbed, score: Self.ppm(best.score), actor: Configuration.matcherSource, note: note)
        return decisionEvent(d, at: position, now: now, data: Self.evidence(best))
    }

    /// The golden record that best matches `values` among those their blocking keys find
    /// (each followed to its survivor, `excluded` ones and records without events left out),
    /// scored in full; nil when none is found.
    private func bestCandidate(for values: [String: [String]], kind: EntityKind, excluding excluded: [Subject] = []) throws -> (subject: Subject, score: MatchModel.Score)? {
        guard let scorer = identity.scorers[kind], let blocking = identity.blocking(kind) else { return nil }
        let record = scorer.prepare(values)
        // Keys rule by rule; a rule of one attribute also tells how common each value is.
        var keys: [String] = []
        var shareKeys: [Int: [String: Int]] = [:]   // attribute index → key → its place in `keys`
        for rule in blocking.settings.block {
            let ruleKeys = scorer.blockingKeys(record, rule: rule, blocking)
            if rule.count == 1, let i = scorer.attributes.firstIndex(of: rule[0]) {
                for (n, k) in ruleKeys.enumerated() { shareKeys[i, default: [:]][k] = keys.count + n }
            }
            keys += ruleKeys
        }
        let (candidates, counts) = try identity.candidates(kind, keys: keys)
        let population = identity.indexedRecords[Int(kind.storageByte)]
        let frequency: MatchScorer.Frequency? = shareKeys.isEmpty ? nil : { i, value in
            guard let places = shareKeys[i], let part = BlockingKeys.part(of: value, scorer.comparators[i]), let n = places[part] else { return nil }
            return IdentityLedger.commonShare(entries: counts[n], population: population)
        }
        var seen = Set<Subject>(excluded)
        var leader: (subject: Subject, record: MatchScorer.Record, weight: Double)?
        for candidate in candidates {
            let golden: Subject, held: MatchScorer.Record
            if let p = identity.profile(candidate) {
                guard seen.insert(candidate).inserted else { continue }
                (golden, held) = (candidate, p)
            } else {
                let (found, state) = try survivorState(of: candidate)
                guard seen.insert(found).inserted, state.eventCount > 0 else { continue }
                golden = found
                held = scorer.prepare { state.heldValues($0) }
                identity.remember(held, of: found)
            }
            let w = scorer.weight(record, held, frequency: frequency)
            if leader == nil || w > leader!.weight || (w == leader!.weight && golden < leader!.subject) {
                leader = (golden, held, w)
            }
        }
        return leader.map { ($0.subject, scorer.score(record, $0.record, frequency: frequency)) }
    }

    /// A decision's evidence in its event's `data`: the candidate, the score and each comparison.
    private static func evidence(_ best: (subject: Subject, score: MatchModel.Score)?) -> JSONObject {
        guard let best else { return [:] }
        return ["candidate": .string(best.subject.description),
                "score": .number(decimal(best.score.probability, digits: 6)),
                "comparisons": .array(best.score.comparisons.map {
                    ["attribute": .string($0.attribute), "level": .string($0.level.label), "weight": .number(decimal($0.weight, digits: 3))]
                })]
    }

    private static func ppm(_ score: MatchModel.Score) -> UInt32 { UInt32((score.probability * 1e6).rounded()) }

    /// A steward's decision checked against the current state and completed (survivor
    /// chosen, a new hub identifier for an unmerge).
    private func completed(_ d: IdentityDecision, of event: Event) throws -> Event {
        var d = d
        switch d.action {
        case .merge:
            if let t = d.task {
                guard let task = try identity.task(t) else { throw EventRejection("id", .invalidField, "no review task \(t)") }
                guard task.status == .open else { throw EventRejection("id", .invalidField, "review task \(t) is already \(task.status.rawValue)") }
                d.from = task.record
                d.into = task.candidate
            }
            guard let from = d.from else { throw EventRejection("from", .missingField, "is required") }
            for (field, s) in [("from", from), ("into", d.into)] {
                let state = try peekState(s)
                if let alias = state.mergedInto { throw EventRejection(field, .invalidSubject, "\(s) is merged into \(try survivor(of: alias)); name that record") }
                guard state.eventCount > 0 || !state.members.isEmpty else { throw EventRejection(field, .invalidSubject, "\(s) has no golden record") }
            }
            let a = try survivor(of: from), b = try survivor(of: d.into)
            guard a != b else { throw EventRejection("into", .invalidSubject, "\(from) and \(d.into) are already one record") }
            // The survivor keeps a national identifier, else the older hub identifier.
            let (absorbed, survivor) = Self.survivorship(a, b)
            d.from = absorbed
            d.into = survivor
        case .distinct:
            guard let t = d.task, let task = try identity.task(t) else { throw EventRejection("id", .invalidField, "no review task \(d.task ?? 0)") }
            guard task.status == .open else { throw EventRejection("id", .invalidField, "review task \(t) is already \(task.status.rawValue)") }
            d.from = task.record
            d.candidate = task.candidate
            d.into = task.record
        case .unmerge:
            guard let record = d.record, let c = record.crosswalk else { throw EventRejection("key", .invalidField, "names no local record") }
            guard let pointer = try peekState(record).mergedInto else {
                throw EventRejection("key", .invalidField, "\(c.source) has no record \(c.key) of kind \(record.kind.rawValue)")
            }
            let golden = try survivor(of: pointer)
            let others = try peekState(golden).members.filter { $0 != record }
            guard !others.isEmpty || golden.hubNumber == nil else {
                throw EventRejection("key", .invalidField, "\(record.publishedText) of \(c.source) is alone in \(golden); nothing to unmerge")
            }
            d.into = Subject.hub(kind: record.kind, number: identity.nextHub)
            d.from = golden
        case .link, .create:
            throw EventRejection("type", .invalidField, "links are the matcher's; a steward merges or unmerges")
        }
        var data = event.data.objectValue ?? [:]
        data["into"] = .string(d.into.description)
        if let f = d.from { data["from"] = .string(f.description) }
        var e = Event(id: event.id, source: event.source, type: d.eventType, subject: d.into, time: event.time, timeText: event.timeText,
                      dataContentType: event.dataContentType, data: .object(data), body: .identity(d))
        e.position = event.position
        e.ingestTime = event.ingestTime
        return e
    }

    /// (absorbed, survivor) of two golden records: a national identifier survives, else the
    /// older hub identifier.
    static func survivorship(_ a: Subject, _ b: Subject) -> (Subject, Subject) {
        switch (a.hubNumber, b.hubNumber) {
        case (nil, .some): return (b, a)
        case (.some, nil): return (a, b)
        case let (x?, y?): return x < y ? (b, a) : (a, b)
        case (nil, nil): return (a, b)
        }
    }

    /// `x` with `digits` decimals, as `String(format: "%.Nf")` writes it (which costs more
    /// than the rest of a decision).
    static func decimal(_ x: Double, digits: Int) -> String {
        guard x.isFinite else { return "0" }
        var scale: Int64 = 1
        for _ in 0..<digits { scale *= 10 }
        let n = Int64((abs(x) * Double(scale)).rounded())
        var fraction = String(n % scale)
        fraction = String(repeating: "0", count: digits - fraction.count) + fraction
        return (x < 0 && n != 0 ? "-" : "") + String(n / scale) + (digits > 0 ? "." + fraction : "")
    }

    /// The matcher's decision as an event (source `matcher`, id from its position).
    private func decisionEvent(_ d: IdentityDecision, at position: UInt64, now: Int64, data extra: JSONObject) -> Event {
        var data = extra
        data["into"] = .string(d.into.description)
        if let r = d.record, let c = r.crosswalk { data["source"] = .string(c.source); data["key"] = .string(c.key) }
        if let f = d.from { data["from"] = .string(f.description) }
        if let t = d.task { data["task"] = JSONValue(t) }
        if let n = d.note { data["note"] = .string(n) }
        return Event(id: "identity-\(position)", source: Configuration.matcherSource, type: d.eventType, subject: d.into, time: now,
                     timeText: Timestamp.format(now), dataContentType: "application/json", data: .object(data), body: .identity(d))
    }
}
