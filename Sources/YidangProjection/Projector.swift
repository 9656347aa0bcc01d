import YidangModel

/// Where the projector finds and numbers conflicts. The store implements it over its
/// caches and RocksDB; ``InMemoryConflictLedger`` serves replays and tests.
public protocol ConflictLedger {
    /// The conflict with `id`, or nil.
    mutating func conflict(id: UInt64) throws -> Conflict?
    /// A new, never used conflict id.
    mutating func allocateConflictId() -> UInt64
}

/// A link between a person and an enterprise, derived from a golden identifier value.
public struct Link: Sendable, Hashable {
    public var person: Subject
    public var enterprise: Subject
    /// The attribute that makes it (`employer`, `legalRepresentative`).
    public var role: String
    public init(person: Subject, enterprise: Subject, role: String) { self.person = person; self.enterprise = enterprise; self.role = role }
}

/// What applying one event produced.
public struct ProjectionOutcome: Sendable {
    /// Conflicts created or changed (to persist).
    public var conflicts: [Conflict] = []
    /// Change records to append (positions unassigned), golden change first.
    public var changes: [ChangeRecord] = []
    public var linksAdded: [Link] = []
    public var linksRemoved: [Link] = []
    /// Conflicts opened: (conflict, sources disagreeing with the winner).
    public var opened: [Conflict] = []
    /// Corrections requested: department codes.
    public var corrections: [String] = []
    /// An emptied list of attribute changes whose room the next golden change record reuses.
    var spareAttributeChanges: [AttributeChange] = []

    public init() {}

    /// Empties the outcome for the next event, keeping the room its lists have (and that of
    /// its first change record's list of attribute changes, the golden change's whenever there
    /// is one): an outcome reused event after event allocates nothing once its lists have
    /// grown, where a new one allocated two or three lists per event.
    public mutating func recycle() {
        if !changes.isEmpty {
            // Taken out whole (a swap, not a copy), so the list is referenced once when emptied.
            swap(&spareAttributeChanges, &changes[0].changes)
            Self.empty(&spareAttributeChanges)
        }
        Self.empty(&conflicts)
        Self.empty(&changes)
        Self.empty(&linksAdded)
        Self.empty(&linksRemoved)
        Self.empty(&opened)
        Self.empty(&corrections)
    }

    /// Empties `list` from its end, keeping its room. `removeAll(keepingCapacity:)` empties a
    /// list through the general `replaceSubrange`, even an empty one: about 350 instructions
    /// for the one change record of an event, beside destroying it, and tens for each list
    /// that held nothing, most of them most of the time (callgrind, a replay of the registry
    /// snapshot).
    @inline(__always) private static func empty<Element>(_ list: inout [Element]) {
        while !list.isEmpty { list.removeLast() }
    }
}

/// The pure fold (docs/ARCHITECTURE.md, "The writer"): applies one event to a subject's state.
///
/// Deterministic: the same events in the same log order give the same state, and for
/// department events any arrival order gives the same golden values and open conflicts
/// (statements are ordered by effective time, not arrival).
public struct Projector: Sendable {
    public let configuration: Configuration
    /// For replays of one subject (as-of reads), where conflict ids differ from the
    /// stored ones: a steward decision then settles whatever conflict is open on its
    /// attribute, and a decision with nothing to settle is skipped instead of refused.
    public var replayingSubject = false

    /// The rules of persons' and enterprises' attributes, for the fold's lookups.
    let personRules: RuleTable
    let enterpriseRules: RuleTable
    /// The same rules as the fold reads them, by the same index.
    let personFoldRules: [FoldRule]
    let enterpriseFoldRules: [FoldRule]
    /// `regionCode` as each kind's configuration spells it (the same string object when it is
    /// configured): a record's attributes are found by identity first, and a name spelled
    /// apart (a literal) was compared with them byte by byte for every change record.
    private let regionCodeNames: (person: String, enterprise: String)
    /// Its ``AttributeTable/orderWord(_:)``: a record without a region code (most of a
    /// registry's) is told so without working the word out for every change record.
    private let regionCodeWord = AttributeTable.orderWord("regionCode")

    public init(configuration: Configuration, replayingSubject: Bool = false) {
        self.configuration = configuration
        self.replayingSubject = replayingSubject
        personRules = configuration.ruleTable(.person)
        enterpriseRules = configuration.ruleTable(.enterprise)
        personFoldRules = zip(personRules.rules, personRules.names).map(FoldRule.init)
        enterpriseFoldRules = zip(enterpriseRules.rules, enterpriseRules.names).map(FoldRule.init)
        func shared(_ table: RuleTable) -> String { table.index(of: "regionCode").map { table.names[$0] } ?? "regionCode" }
        regionCodeNames = (shared(personRules), shared(enterpriseRules))
    }

    /// The golden `regionCode` of `state` (what a change record carries for region filters).
    func regionCode(of state: SubjectState) -> String? {
        state.goldenText(state.subject.kind == .person ? regionCodeNames.person : regionCodeNames.enterprise, orderWord: regionCodeWord)
    }

    /// Applies `event` (which has its position and ingest time) to `state`.
    /// - Throws: ``EventRejection`` for a steward decision that does not fit the current
    ///   state (unknown or already settled conflict, a source that is not a candidate); in
    ///   that case `state` is unchanged and nothing must be stored.
    public func apply<L: ConflictLedger>(_ event: Event, to state: inout SubjectState, ledger: inout L) throws -> ProjectionOutcome {
        var outcome = ProjectionOutcome()
        try apply(event, to: &state, ledger: &ledger, into: &outcome)
        return outcome
    }

    /// Like ``apply(_:to:ledger:)``, adding what the event produced to `outcome`, which must be
    /// empty (new or recycled: see ``ProjectionOutcome/recycle()``). When it throws, `outcome`
    /// may hold part of the refused decision's effects and must be discarded.
    public func apply<L: ConflictLedger>(_ event: Event, to state: inout SubjectState, ledger: inout L,
                                         into outcome: inout ProjectionOutcome) throws {
        // Department events cannot fail: fold them in place (no copy of the state). A steward
        // decision may be refused, so it works on a copy that replaces the state on success.
        if event.isStewardDecision {
            var next = state
            try fold(event, into: &next, ledger: &ledger, outcome: &outcome)
            state = next
            return
        }
        try fold(event, into: &state, ledger: &ledger, outcome: &outcome)
    }

    func fold<L: ConflictLedger>(_ event: Event, into next: inout SubjectState, ledger: inout L, outcome: inout ProjectionOutcome) throws {
        var change = ChangeRecord(kind: .golden, logPosition: event.position, subject: event.subject, version: next.version, time: event.ingestTime)
        swap(&change.changes, &outcome.spareAttributeChanges)
        if case .assert(let assertions) = event.body, try foldDistinct(assertions, of: event, into: &next, ledger: &ledger,
                                                                      outcome: &outcome, change: &change) {
            if finish(event, into: &next, change: &change) { outcome.changes.append(consume change) }
            else { keepRoom(of: &change, in: &outcome) }
            return
        }
        var correction: ChangeRecord?
        var settled: (id: UInt64, attribute: String)?
        switch event.body {
        case .assert(let assertions):
            for a in assertions {
                record(Statement(source: event.source, eventId: event.id, position: event.position, time: event.time, value: a.value),
                       attribute: a.attribute, in: &next)
            }
        case .retract(let names):
            for name in names {
                record(Statement(source: event.source, eventId: event.id, position: event.position, time: event.time, value: nil),
                       attribute: name, in: &next)
            }
        case .steward(let decision):
            correction = try settle(decision, event: event, state: &next, ledger: &ledger, outcome: &outcome)
            if let c = outcome.conflicts.last { settled = (c.id, c.attribute) }
        case .identity:
            // Links and merges move whole records; the writer applies them (IdentityLedger).
            break
        }

        // Each attribute the event touched is recomputed once, in the order it was touched.
        var touched: [String] = []
        switch event.body {
        case .assert(let assertions):
            if assertions.count > 1 { change.changes.reserveCapacity(assertions.count) }
            for i in assertions.indices where !assertions[..<i].contains(where: { $0.attribute == assertions[i].attribute }) {
                touched.append(assertions[i].attribute)
            }
        case .retract(let names):
            for i in names.indices where !names[..<i].contains(names[i]) { touched.append(names[i]) }
        case .steward:
            if let settled {
                change.conflictsClosed.append(settled.id)
                touched.append(settled.attribute)
            }
        case .identity:
            break
        }
        for attribute in touched {
            guard let rule = foldRule(event.subject.kind, attribute) else { continue }
            try recompute(attribute, rule: rule, event: event, state: &next, ledger: &ledger, outcome: &outcome, change: &change)
        }
        // Moved into the outcome, not copied: a copy retains and releases every field.
        if finish(event, into: &next, change: &change) { outcome.changes.append(consume change) }
        else { keepRoom(of: &change, in: &outcome) }
        if var correction {
            correction.version = next.version
            correction.regionCode = regionCode(of: next)
            outcome.changes.append(correction)
        }
    }

    /// Gives the room of a dropped change record's (empty) list back to `outcome`.
    private func keepRoom(of change: inout ChangeRecord, in outcome: inout ProjectionOutcome) {
        swap(&change.changes, &outcome.spareAttributeChanges)
    }

    /// Folds assertions of distinct configured attributes, each recorded and recomputed in
    /// place in turn (one lookup of its state and one of its rule); the same as recording them
    /// all and then recomputing each, since an attribute's recomputation reads only its own
    /// state. Returns false, having done nothing, for any other assertions (an attribute
    /// twice, one the configuration lacks, more than 64 attributes).
    private func foldDistinct<L: ConflictLedger>(_ assertions: [Assertion], of event: Event, into next: inout SubjectState,
                                                 ledger: inout L, outcome: inout ProjectionOutcome,
                                                 change: inout ChangeRecord) throws -> Bool {
        let subject = event.subject
        let table = rules(subject.kind), foldRules = self.foldRules(subject.kind)
        // Each assertion's rule index, looked up once (on the stack: no allocation per event).
        // Assertions read where they lie: iterating copies each, retaining its two strings.
        return try assertions.withUnsafeBufferPointer { assertions in
            try withUnsafeTemporaryAllocation(of: Int.self, capacity: assertions.count) { indices in
                var seen: UInt64 = 0
                for n in assertions.indices {
                    guard let i = table.index(of: assertions[n].attribute), i < 64, seen & (1 << i) == 0 else { return false }
                    seen |= 1 << i
                    indices[n] = i
                }
                if assertions.count > 1 { change.changes.reserveCapacity(assertions.count) }
                let source = event.source, id = event.id
                for n in assertions.indices {
                    let rule = foldRules[indices[n]]
                    try next.attributes.modify(assertions[n].attribute, orderWord: rule.orderWord) { attr in
                        let attribute = assertions[n].attribute
                        if let former = attr.recordBeforeSurvivorship(source: source, eventId: id, position: event.position,
                                                                      time: event.time, value: assertions[n].value) {
                            try recompute(&attr, attribute, of: subject, rule: rule, event: event, ledger: &ledger,
                                          outcome: &outcome, change: &change, oldValue: former.value, oldSource: former.source)
                        } else {
                            try recompute(&attr, attribute, of: subject, rule: rule, event: event, ledger: &ledger,
                                          outcome: &outcome, change: &change)
                        }
                    }
                }
                return true
            }
        }
    }

    /// The rules of `kind`'s attributes.
    func rules(_ kind: EntityKind) -> RuleTable { kind == .person ? personRules : enterpriseRules }

    /// The rules of `kind`'s attributes as the fold reads them (by ``RuleTable/index(of:)``).
    func foldRules(_ kind: EntityKind) -> [FoldRule] { kind == .person ? personFoldRules : enterpriseFoldRules }

    /// The fold's rule of `attribute` of `kind`, or nil when the kind has no such attribute.
    func foldRule(_ kind: EntityKind, _ attribute: String) -> FoldRule? {
        rules(kind).index(of: attribute).map { foldRules(kind)[$0] }
    }

    /// Counts the event into the state and completes its golden change record; returns
    /// whether the record has anything to say (else it is dropped).
    private func finish(_ event: Event, into next: inout SubjectState, change: inout ChangeRecord) -> Bool {
        next.eventCount += 1
        next.lastPosition = event.position
        guard !change.changes.isEmpty || !change.conflictsOpened.isEmpty || !change.conflictsClosed.isEmpty else { return false }
        if !change.changes.isEmpty { next.version += 1 }
        change.version = next.version
        change.regionCode = regionCode(of: next)
        change.setCause(event.id)
        return true
    }

    /// Keeps a source's statement only when it supersedes the one already held.
    func record(_ statement: Statement, attribute: String, in state: inout SubjectState) {
        state.attributes.modify(attribute) { $0.record(statement) }
    }

    /// Recomputes the golden value and the conflict state of one attribute.
    func recompute<L: ConflictLedger>(_ attribute: String, rule: FoldRule, event: Event, state: inout SubjectState,
                                      ledger: inout L, outcome: inout ProjectionOutcome, change: inout ChangeRecord) throws {
        // Updated in place: a copy taken out and stored back cost a retain and a release of
        // every field per attribute per event.
        let subject = state.subject
        try state.attributes.update(attribute) { attr in
            try recompute(&attr, attribute, of: subject, rule: rule, event: event, ledger: &ledger, outcome: &outcome, change: &change)
        }
    }

    /// Recomputes `attr`, whose golden value before the change is its own (its reference
    /// still points at it).
    private func recompute<L: ConflictLedger>(_ attr: inout AttributeState, _ attribute: String, of subject: Subject, rule: FoldRule,
                                              event: Event, ledger: inout L, outcome: inout ProjectionOutcome,
                                              change: inout ChangeRecord) throws {
        // The golden value before the change, its value and source read alone (a whole golden
        // value would copy three strings).
        let oldValue = attr.goldenText, oldSource = attr.goldenSource
        try recompute(&attr, attribute, of: subject, rule: rule, event: event, ledger: &ledger, outcome: &outcome, change: &change,
                      oldValue: oldValue, oldSource: oldSource)
    }

    /// `oldValue`, `oldSource`: the golden value before the change, which may be a statement
    /// ``AttributeState/recordBeforeSurvivorship(_:)`` replaced (the reference now points at
    /// its successor). Passed as its two strings: a statement passed whole, optional, was
    /// copied for the call.
    private func recompute<L: ConflictLedger>(_ attr: inout AttributeState, _ attribute: String, of subject: Subject, rule: FoldRule,
                                              event: Event, ledger: inout L, outcome: inout ProjectionOutcome,
                                              change: inout ChangeRecord, oldValue: consuming String?, oldSource: consuming String?) throws {
        let oldConflict = attr.goldenConflict
        // Read where the rule keeps it: a local copy of it copied the rule's lists.
        let best = rule.survivorship.winnerIndex(in: attr.statements)
        // One statement cannot disagree with itself: the winner's value (a copy of a string) is
        // read only where there are several, or a conflict to update (most attributes of most
        // records have one department's statement and none).
        let several = attr.statements.count > 1
        let first = several || attr.openConflict != nil ? best.flatMap { attr.statements[$0].value } ?? "" : ""
        let disagree = several && rule.flagsConflicts && attr.statements.contains { $0.isActive && ($0.value ?? "") != first }
        // The active statements in survivorship order, for a conflict only (most attributes have
        // one value, and this runs for every attribute of every event).
        let ranked = attr.openConflict != nil || disagree ? rule.survivorship.ranked(attr.statements) : []
        // The distinct values, winner's first.
        var distinct: [String] {
            var out: [String] = []
            for s in ranked where !out.contains(s.value ?? "") { out.append(s.value ?? "") }
            return out
        }
        // Candidates matter only to a conflict (most attributes have none).
        var candidates: [Candidate] {
            ranked.map { Candidate(source: $0.source, value: $0.value ?? "", time: $0.time, eventId: $0.eventId, position: $0.position) }
        }

        if let openId = attr.openConflict, var open = try ledger.conflict(id: openId) {
            if !disagree {
                open.status = .resolved
                open.resolution = Resolution(action: .agreed, steward: nil, note: nil, value: ranked.isEmpty ? nil : first, source: ranked.first?.source,
                                             eventId: event.id, position: event.position, time: event.ingestTime)
                open.updatedPosition = event.position
                attr.openConflict = nil
                outcome.conflicts.append(open)
                change.conflictsClosed.append(open.id)
            } else {
                let now = candidates
                if open.candidates != now {
                    open.candidates = now
                    open.winner = attr.pin?.value ?? (ranked.isEmpty ? nil : first)
                    open.updatedPosition = event.position
                    outcome.conflicts.append(open)
                }
            }
        } else if disagree {
            var known = attr.settledValues
            if let pin = attr.pin { known.append(pin.value) }
            if !distinct.allSatisfy({ known.contains($0) }) {
                let conflict = Conflict(id: ledger.allocateConflictId(), subject: subject, attribute: attribute, status: .open,
                                        candidates: candidates, winner: attr.pin?.value ?? (ranked.isEmpty ? nil : first),
                                        openedPosition: event.position, openedTime: event.ingestTime,
                                        updatedPosition: event.position, resolution: nil)
                attr.openConflict = conflict.id
                attr.lastConflict = conflict.id
                attr.settledValues = []
                outcome.conflicts.append(conflict)
                outcome.opened.append(conflict)
                change.conflictsOpened.append(conflict.id)
            }
        }

        let conflict = attr.openConflict != nil
        let newReference: GoldenReference
        let newValue: String?, newSource: String?
        if let pin = attr.pin {
            newReference = GoldenReference(pinWithConflict: conflict)
            newValue = pin.value; newSource = Configuration.stewardSource
        } else if let b = best, let value = attr.statements[b].value {
            newReference = GoldenReference(statement: b, conflict: conflict)
            newValue = value; newSource = attr.statements[b].source
        } else {
            newReference = .none
            newValue = nil; newSource = nil
        }
        let newConflict: Bool? = newValue == nil ? nil : conflict
        let valueChanged = oldValue != newValue
        if valueChanged || oldSource != newSource || oldConflict != newConflict {
            if let target = rule.link, valueChanged {
                if let v = oldValue { outcome.linksRemoved.append(link(subject, attribute: attribute, value: v, target: target)) }
                if let v = newValue { outcome.linksAdded.append(link(subject, attribute: attribute, value: v, target: target)) }
            }
            // The old and new values and sources moved into the change, their last use:
            // copied, each was retained for the change and released with the locals.
            change.changes.append(AttributeChange(attribute: attribute, old: consume oldValue, new: consume newValue,
                                                  oldSource: consume oldSource, source: consume newSource, conflict: newConflict ?? false))
        }
        attr.setGolden(newReference)
    }

    func link(_ subject: Subject, attribute: String, value: String, target: EntityKind) -> Link {
        let other = Subject(kind: target, id: value)
        return subject.kind == .person
            ? Link(person: subject, enterprise: other, role: attribute)
            : Link(person: other, enterprise: subject, role: attribute)
    }

    /// Applies a steward decision; returns the correction notice for `reject`.
    func settle<L: ConflictLedger>(_ d: StewardDecision, event: Event, state: inout SubjectState, ledger: inout L,
                                   outcome: inout ProjectionOutcome) throws -> ChangeRecord? {
        var found = try ledger.conflict(id: d.conflictId)
        if replayingSubject, let openId = state.attributes[d.attribute]?.openConflict {
            found = try ledger.conflict(id: openId)
        }
        guard var conflict = found, conflict.subject == event.subject else {
            if replayingSubject { return nil }
            throw EventRejection("conflict", .unknownConflict, "conflict \(d.conflictId) does not exist for \(event.subject)")
        }
        if replayingSubject && conflict.status != .open { return nil }
        guard conflict.status == .open, var attr = state.attributes[conflict.attribute], attr.openConflict == conflict.id else {
            throw EventRejection("conflict", .conflictNotOpen, "conflict \(d.conflictId) is already resolved")
        }
        let values = attr.heldValues
        var resolution = Resolution(action: .accept, steward: d.steward, note: d.note, value: nil, source: nil,
                                    eventId: event.id, position: event.position, time: event.ingestTime)
        var notice: ChangeRecord?
        switch d.action {
        case .accept:
            attr.pin = nil
            resolution.value = conflict.winner
            resolution.source = conflict.candidates.first?.source
            attr.settledValues = values
        case .pin:
            guard let value = d.value else { throw EventRejection("value", .invalidValue, "pin needs a value") }
            attr.pin = Pin(value: value, eventId: event.id, position: event.position, time: event.ingestTime, steward: d.steward)
            resolution.action = .pin
            resolution.value = value
            attr.settledValues = values + [value]
        case .reject:
            guard let source = d.rejectedSource,
                  let i = attr.statements.firstIndex(where: { $0.source == source && $0.isActive }) else {
                let sources = conflict.candidates.map(\.source).joined(separator: ", ")
                throw EventRejection("source", .invalidValue, "\"\(d.rejectedSource ?? "")\" is not a candidate of conflict \(d.conflictId) (\(sources))")
            }
            let rejected = attr.statements[i]
            attr.statements[i].rejected = true
            resolution.action = .reject
            resolution.source = source
            resolution.value = rejected.value
            attr.settledValues = attr.heldValues
            var n = ChangeRecord(kind: .correction, logPosition: event.position, subject: event.subject, version: state.version, time: event.ingestTime)
            n.department = source
            n.attribute = conflict.attribute
            n.conflictId = conflict.id
            n.rejectedValue = rejected.value
            n.rejectedEventId = rejected.eventId
            n.steward = d.steward
            n.note = d.note
            n.setCause(event.id)
            notice = n
            outcome.corrections.append(source)
        }
        conflict.status = .resolved
        conflict.resolution = resolution
        // The decided outcome, which the golden record now shows: the pin, else the
        // survivorship winner among the values still standing (after a reject, not the
        // rejected department's).
        if let pin = attr.pin {
            conflict.winner = pin.value
        } else if let rule = rules(event.subject.kind).rule(conflict.attribute),
                  let best = Survivorship(rule: rule).winnerIndex(in: attr.statements) {
            conflict.winner = attr.statements[best].value
        } else {
            conflict.winner = nil
        }
        conflict.updatedPosition = event.position
        attr.openConflict = nil
        state.attributes[conflict.attribute] = attr
        outcome.conflicts.append(conflict)
        return notice
    }
}

/// A ledger held in memory: for replays (as-of reads, verify) and tests.
public struct InMemoryConflictLedger: ConflictLedger, Sendable {
    public var conflicts: [UInt64: Conflict] = [:]
    public var nextId: UInt64
    public init(nextId: UInt64 = 1) { self.nextId = nextId }
    public mutating func conflict(id: UInt64) -> Conflict? { conflicts[id] }
    public mutating func allocateConflictId() -> UInt64 { defer { nextId += 1 }; return nextId }
    public mutating func store(_ outcome: ProjectionOutcome) { for c in outcome.conflicts { conflicts[c.id] = c } }
}
