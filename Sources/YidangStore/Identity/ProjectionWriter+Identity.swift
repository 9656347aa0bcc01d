import YidangModel
import YidangProjection

/// Applying identity decisions (docs/ARCHITECTURE.md, "Identity resolution"). A decision
/// moves records, not values: a link points a local record at its golden record, a merge
/// folds one golden record's statements into another and leaves an alias, an unmerge
/// refolds both sides from their events in the log. Replays apply the same decisions in the
/// same order, so every cluster is reproduced.
extension ProjectionWriter {
    /// Changes a subject's cached state (loading it), marking it to be written.
    func modifyState<R>(_ subject: Subject, _ body: (inout SubjectState) throws -> R) throws -> R {
        let batch = batchNumber
        var changed = false
        identity.forgetProfile(of: subject)
        let r = try subjects.update(subject, load: { try stateToChange(subject) }) { cached -> R in
            let r = try body(&cached.state)
            changed = cached.markChanged(in: batch)
            return r
        }
        if changed { noteDirty(subject) }
        return r
    }

    /// A subject's current state (as the fold would see it), without caching it.
    func peekState(_ subject: Subject) throws -> SubjectState {
        if let c = subjects[subject] { return c.state }
        if let p = prefetched[subject] { return p.state }
        return try storedState(subject).state
    }

    /// The golden record a subject reads as: itself, or the end of its `mergedInto` chain.
    func survivor(of subject: Subject) throws -> Subject { try survivorState(of: subject).subject }

    /// ``survivor(of:)`` with its state.
    func survivorState(of subject: Subject) throws -> (subject: Subject, state: SubjectState) {
        var s = subject
        for _ in 0..<64 {
            let state = try peekState(s)
            guard let next = state.mergedInto else { return (s, state) }
            s = next
        }
        throw StoreError.corrupt("\(subject) is merged in a cycle")
    }

    func applyIdentity(_ d: IdentityDecision, of event: Event, into sink: some WriteSink) throws {
        switch d.action {
        case .link, .create:
            guard let record = d.record else { throw StoreError.corrupt("identity decision at \(event.position) names no record") }
            identity.used(hub: d.into)
            try modifyState(record) { st in st.updateIdentity { $0.mergedInto = d.into } }
            let golden = try survivor(of: d.into)
            try modifyState(golden) { st in st.updateIdentity { if !$0.members.contains(record) { $0.members.append(record) } } }
            // Per department: matched automatically, sent to review, new (by identifier: a link).
            if let c = record.crosswalk {
                try count(c.source, d.action == .link ? "matched" : d.task != nil ? "sentToReview" : "newRecords")
            }
            if d.action == .create, let t = d.task, let candidate = d.candidate {
                identity.put(MatchTask(id: t, record: d.into, candidate: candidate, score: d.score ?? 0,
                                       openedPosition: event.position, openedTime: event.ingestTime))
            }
        case .merge:
            guard let from = d.from else { throw StoreError.corrupt("merge at \(event.position) names no record") }
            identity.forgetProfiles()
            let absorbed = try survivor(of: from), into = try survivor(of: d.into)
            if let t = d.task { try settle(task: t, .confirmed, by: d, at: event) }
            guard absorbed != into else { return }
            try merge(absorbed, into: into, event: event, sink: sink)
        case .unmerge:
            guard let record = d.record else { throw StoreError.corrupt("unmerge at \(event.position) names no record") }
            identity.forgetProfiles()
            identity.used(hub: d.into)
            try unmerge(record, into: d.into, event: event, sink: sink)
        case .distinct:
            guard let t = d.task, let a = d.from, let b = d.candidate else { throw StoreError.corrupt("distinct at \(event.position) names no task") }
            try settle(task: t, .rejected, by: d, at: event)
            try modifyState(a) { st in st.updateIdentity { if !$0.distinct.contains(b) { $0.distinct.append(b) } } }
            try modifyState(b) { st in st.updateIdentity { if !$0.distinct.contains(a) { $0.distinct.append(a) } } }
        }
    }

    private func settle(task id: UInt64, _ status: MatchTask.Status, by d: IdentityDecision, at event: Event) throws {
        guard var task = try identity.task(id) else { throw StoreError.corrupt("decision at \(event.position) names no task \(id)") }
        task.status = status
        task.decidedPosition = event.position
        task.steward = d.actor
        task.note = d.note
        identity.put(task)
    }

    /// Folds `absorbed` into `into`: statements, members and distinct records move over,
    /// `absorbed` becomes an alias, its open conflicts close (its values are `into`'s now).
    private func merge(_ absorbed: Subject, into: Subject, event: Event, sink: some WriteSink) throws {
        let old = try peekState(absorbed)
        var ledger = Ledger(writer: self, allocated: nextConflictId)
        var outcome = ProjectionOutcome()
        let resolved = event.resolved(to: into)
        try modifyState(into) { st in
            try projector.absorb(old, into: &st, event: resolved, ledger: &ledger, outcome: &outcome)
            st.updateIdentity { info in
                for m in [absorbed] + old.members where !info.members.contains(m) { info.members.append(m) }
                for x in old.identity?.distinct ?? [] where !info.distinct.contains(x) && x != into { info.distinct.append(x) }
                // Merged by a steward after all: no longer declared different.
                info.distinct.removeAll { $0 == absorbed }
            }
        }
        nextConflictId = ledger.allocated
        try closeOpenConflicts(of: old, event: event, ledger: &ledger, outcome: &outcome)
        for l in projector.links(of: old) { outcome.linksRemoved.append(l) }
        try modifyState(absorbed) { st in st.updateIdentity { $0.mergedInto = into; $0.members = [] } }
        let survivor = try peekState(into)
        var merged = ChangeRecord(kind: .merged, logPosition: event.position, subject: into, version: survivor.version, time: event.ingestTime)
        merged.related = absorbed
        merged.regionCode = survivor.goldenText("regionCode")
        merged.setCause(event.id)
        outcome.changes.append(merged)
        try write(&outcome, into: sink)
    }

    /// Takes `record` out of its golden record into `newSubject`, refolding both from the log.
    private func unmerge(_ record: Subject, into newSubject: Subject, event: Event, sink: some WriteSink) throws {
        let previous = try survivor(of: record)
        let before = try peekState(previous)
        var ledger = Ledger(writer: self, allocated: nextConflictId)
        var outcome = ProjectionOutcome()
        try closeOpenConflicts(of: before, event: event, ledger: &ledger, outcome: &outcome)
        try write(&outcome, into: sink)
        outcome = ProjectionOutcome()
        try modifyState(record) { st in st.updateIdentity { $0.mergedInto = newSubject } }
        let remaining = before.members.filter { $0 != record }
        var rest = try refold(previous, from: [previous] + remaining, before: event.position, sink: sink)
        rest.identity = before.identity
        // A steward separated them: the matcher never merges them again.
        rest.updateIdentity { $0.members = remaining; if !$0.distinct.contains(newSubject) { $0.distinct.append(newSubject) } }
        var separated = try refold(newSubject, from: [record], before: event.position, sink: sink)
        separated.updateIdentity { $0.members = [record]; $0.distinct = [previous] }
        let resolvedOld = event.resolved(to: previous), resolvedNew = event.resolved(to: newSubject)
        if let c = projector.goldenChange(from: before, to: &rest, event: resolvedOld) { outcome.changes.append(c) }
        if let c = projector.goldenChange(from: nil, to: &separated, event: resolvedNew) { outcome.changes.append(c) }
        let oldLinks = Set(projector.links(of: before)), newLinks = Set(projector.links(of: rest))
        let order: (Link, Link) -> Bool = { ($0.person, $0.enterprise, $0.role) < ($1.person, $1.enterprise, $1.role) }
        outcome.linksRemoved += oldLinks.subtracting(newLinks).sorted(by: order)
        outcome.linksAdded += newLinks.subtracting(oldLinks).sorted(by: order)
        outcome.linksAdded += projector.links(of: separated)
        var unmerged = ChangeRecord(kind: .unmerged, logPosition: event.position, subject: newSubject, version: separated.version, time: event.ingestTime)
        unmerged.related = previous
        unmerged.regionCode = separated.goldenText("regionCode")
        unmerged.setCause(event.id)
        outcome.changes.append(unmerged)
        let restState = rest, separatedState = separated
        try modifyState(previous) { $0 = restState }
        try modifyState(newSubject) { $0 = separatedState }
        try write(&outcome, into: sink)
    }

    /// A golden record folded afresh from the events of `members` stored before `position`.
    private func refold(_ subject: Subject, from members: [Subject], before position: UInt64, sink: some WriteSink) throws -> SubjectState {
        guard let history = identity.store.history else { throw StoreError.corrupt("refolding \(subject) needs the log") }
        var events: [Event] = []
        var seen = Set<UInt64>()
        for m in members {
            for e in try history(m) where e.position < position && e.identityDecision == nil && seen.insert(e.position).inserted {
                events.append(e)
            }
        }
        events.sort { $0.position < $1.position }
        // Steward decisions settle whatever conflict the refold has open on their attribute.
        let replay = Projector(configuration: configuration, replayingSubject: true)
        var state = SubjectState(subject: subject)
        var ledger = Ledger(writer: self, allocated: nextConflictId)
        for e in events {
            var outcome = ProjectionOutcome()
            do { try replay.apply(e.resolved(to: subject), to: &state, ledger: &ledger, into: &outcome) } catch is EventRejection { continue }
            put(outcome.conflicts, into: sink)
        }
        nextConflictId = ledger.allocated
        return state
    }

    /// Closes the open conflicts of a record whose values are about to move.
    private func closeOpenConflicts(of state: SubjectState, event: Event, ledger: inout Ledger, outcome: inout ProjectionOutcome) throws {
        for (_, attr) in state.attributes {
            guard let id = attr.openConflict, var c = try ledger.conflict(id: id), c.status == .open else { continue }
            c.status = .resolved
            c.resolution = Resolution(action: .agreed, steward: nil, note: "records \(event.type == "identity.merge" ? "merged" : "separated")",
                                      value: c.winner, source: nil, eventId: event.id, position: event.position, time: event.ingestTime)
            c.updatedPosition = event.position
            outcome.conflicts.append(c)
        }
    }
}
