import YidangModel

extension Projector {
    /// Merges: folds every statement of `other` (an absorbed record) into `state` as if its
    /// events had been the state's, keeps `other`'s pins where `state` has none, recomputes
    /// each attribute touched, and appends the golden change record to `outcome`.
    /// Statements supersede by effective time then position, so the result does not depend on
    /// which record held a statement first.
    public func absorb<L: ConflictLedger>(_ other: SubjectState, into state: inout SubjectState, event: Event,
                                          ledger: inout L, outcome: inout ProjectionOutcome) throws {
        var change = ChangeRecord(kind: .golden, logPosition: event.position, subject: state.subject, version: state.version, time: event.ingestTime)
        var touched: [String] = []
        for (name, attr) in other.attributes {
            state.attributes.modify(name) { mine in
                for s in attr.statements { mine.record(s) }
                if mine.pin == nil, let pin = attr.pin { mine.pin = pin }
            }
            touched.append(name)
        }
        for name in touched.sorted() {
            guard let rule = foldRule(state.subject.kind, name) else { continue }
            try recompute(name, rule: rule, event: event, state: &state, ledger: &ledger, outcome: &outcome, change: &change)
        }
        state.eventCount += other.eventCount
        state.lastPosition = event.position
        if !change.changes.isEmpty || !change.conflictsOpened.isEmpty || !change.conflictsClosed.isEmpty {
            if !change.changes.isEmpty { state.version += 1 }
            change.version = state.version
            change.regionCode = regionCode(of: state)
            change.setCause(event.id)
            outcome.changes.append(change)
        }
    }

    /// The golden change from `old` to `new` (a refolded record), or nil when no golden
    /// value, source or conflict flag differs; bumps `new`'s version past `old`'s when one does.
    public func goldenChange(from old: SubjectState?, to new: inout SubjectState, event: Event) -> ChangeRecord? {
        var change = ChangeRecord(kind: .golden, logPosition: event.position, subject: new.subject, version: old?.version ?? 0, time: event.ingestTime)
        var names = Set(new.attributes.map { $0.0 })
        if let old { for (name, _) in old.attributes { names.insert(name) } }
        for name in names.sorted() {
            let was = old?.golden(name), now = new.golden(name)
            if was?.value != now?.value || was?.source != now?.source || was?.conflict != now?.conflict {
                change.changes.append(AttributeChange(attribute: name, old: was?.value, new: now?.value, oldSource: was?.source,
                                                      source: now?.source, conflict: now?.conflict ?? false))
            }
        }
        new.version = (old?.version ?? 0) + (change.changes.isEmpty ? 0 : 1)
        guard !change.changes.isEmpty else { return nil }
        change.version = new.version
        change.regionCode = regionCode(of: new)
        change.setCause(event.id)
        return change
    }

    /// The links a record's golden values make.
    public func links(of state: SubjectState) -> [Link] {
        var out: [Link] = []
        for (name, attr) in state.attributes {
            guard let target = rules(state.subject.kind).rule(name)?.link, let v = attr.golden?.value else { continue }
            out.append(link(state.subject, attribute: name, value: v, target: target))
        }
        return out
    }
}
