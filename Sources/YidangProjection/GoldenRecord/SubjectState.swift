import JSON
import YidangModel

/// One department's current statement about one attribute of one subject: its latest
/// assertion (or retraction) by effective time, then log position.
public struct Statement: Sendable, Hashable {
    public var source: String
    public var eventId: String
    public var position: UInt64
    /// Effective time (µs).
    public var time: Int64
    /// The normalized value, or nil when the source retracted it.
    public var value: String?
    /// Set when a steward rejected this statement; cleared by the source's next statement.
    public var rejected: Bool = false

    /// Whether this statement supersedes `other` from the same source: later effective
    /// time, or the same time and a later log position. An older fact published later
    /// never overwrites a newer one.
    public func supersedes(_ other: Statement) -> Bool {
        Self.supersedes(time: time, position: position, other.time, other.position)
    }

    /// ``supersedes(_:)`` on the two statements' times and positions.
    static func supersedes(time: Int64, position: UInt64, _ otherTime: Int64, _ otherPosition: UInt64) -> Bool {
        time > otherTime || (time == otherTime && position > otherPosition)
    }

    /// Whether it takes part in survivorship.
    public var isActive: Bool { value != nil && !rejected }
}

extension Statement {
    /// A department's statement, not rejected. Declared here, not in the type: a type that
    /// declares an initializer loses its memberwise one, and a statement made by a declared
    /// initializer was copied when stored (its strings retained and released again: the
    /// Swift 6.3 optimizer, checked on the fold's disassembly); the module makes them with
    /// the memberwise one.
    public init(source: String, eventId: String, position: UInt64, time: Int64, value: String?) {
        self.init(source: source, eventId: eventId, position: position, time: time, value: value, rejected: false)
    }
}

/// The golden value of one attribute, with its lineage.
public struct GoldenValue: Sendable, Hashable {
    public var value: String
    public var source: String
    public var eventId: String
    public var position: UInt64
    public var time: Int64
    public var conflict: Bool
}

extension GoldenValue {
    /// The golden value survivorship takes from a winning statement that holds `value`.
    init(_ statement: Statement, value: String, conflict: Bool) {
        self.init(value: value, source: statement.source, eventId: statement.eventId, position: statement.position,
                  time: statement.time, conflict: conflict)
    }

    /// The golden value a steward's pin sets (shown with source `steward`).
    init(_ pin: Pin, conflict: Bool) {
        self.init(value: pin.value, source: Configuration.stewardSource, eventId: pin.eventId, position: pin.position,
                  time: pin.time, conflict: conflict)
    }

    /// Whether this value is `statement`'s, as ``init(_:value:conflict:)`` takes it (compared
    /// field by field, position first).
    func isTaken(from s: borrowing Statement) -> Bool {
        s.position == position && s.time == time && s.value == value && s.source == source && s.eventId == eventId
    }
    /// Whether this value is `pin`'s, as ``init(_:conflict:)`` sets it.
    func isTaken(from p: Pin) -> Bool {
        source == Configuration.stewardSource && p.position == position && p.value == value && p.eventId == eventId && p.time == time
    }
}

/// A steward's pinned value: it wins until a later steward decision on the attribute.
public struct Pin: Sendable, Hashable {
    public var value: String
    public var eventId: String
    public var position: UInt64
    public var time: Int64
    public var steward: String
}

/// Everything the projection knows about one attribute of one subject.
///
/// Small, because a city holds a dozen for each of its subjects: the golden value is held as
/// a reference to the statement or pin it was taken from (``GoldenReference``), not as a copy
/// of its strings, and the stewardship and conflict bookkeeping most attributes never have
/// (``pin``, ``openConflict``, ``lastConflict``, ``settledValues``, a golden value taken from
/// neither) is held out of line, copied on write, and read as nil or empty where there is
/// none. Equality and hashing are by value.
public struct AttributeState: Sendable, Hashable {
    /// One statement per source, sorted by source code. Changed only inside this module, so
    /// that a golden value held by reference always finds its statement.
    public internal(set) var statements: [Statement] = []
    /// Where the golden value is taken from.
    private(set) var goldenReference = GoldenReference.none
    /// Nil while every one of its fields is nil or empty.
    private var settlement: Settlement?

    /// The golden value, with its lineage: the referenced statement's or pin's fields.
    /// Setting it refers to the statement or pin it was taken from when there is one, and
    /// keeps a copy out of line when there is none.
    public var golden: GoldenValue? {
        get {
            switch goldenReference.kind {
            case .none: return nil
            case .statement(let k):
                let s = statements[k]
                guard let value = s.value else { preconditionFailure("a golden value refers to a retraction") }
                return GoldenValue(s, value: value, conflict: goldenReference.conflict)
            case .pin:
                guard let pin else { preconditionFailure("a golden value refers to a missing pin") }
                return GoldenValue(pin, conflict: goldenReference.conflict)
            case .detached: return settlement?.detachedGolden
            }
        }
        set {
            guard let g = newValue else { return setGolden(.none) }
            if let k = statements.indices.first(where: { g.isTaken(from: statements[$0]) }) {
                setGolden(GoldenReference(statement: k, conflict: g.conflict))
            } else if let p = pin, g.isTaken(from: p) {
                setGolden(GoldenReference(pinWithConflict: g.conflict))
            } else {
                setGolden(GoldenReference(detachedWithConflict: g.conflict), detached: g)
            }
        }
    }

    /// The golden value's value alone (no copy of its lineage's strings).
    public var goldenText: String? {
        switch goldenReference.kind {
        case .none: return nil
        case .statement(let k): return statements[k].value
        case .pin: return settlement?.pin?.value
        case .detached: return settlement?.detachedGolden?.value
        }
    }

    /// The golden value's source alone.
    var goldenSource: String? {
        switch goldenReference.kind {
        case .none: return nil
        case .statement(let k): return statements[k].source
        case .pin: return Configuration.stewardSource
        case .detached: return settlement?.detachedGolden?.source
        }
    }

    /// The golden value's conflict flag; nil without a golden value.
    var goldenConflict: Bool? { goldenReference.kind == .none ? nil : goldenReference.conflict }

    /// Sets where the golden value comes from: a statement, the pin, or none (every
    /// recompute comes here; a detached value goes through ``setGolden(_:detached:)``).
    mutating func setGolden(_ reference: GoldenReference) {
        // A value is held out of line exactly while the reference says so: the out-of-line
        // fields are touched only to drop the last one. No optional value is passed along:
        // testing one against nil copied it, retaining and releasing its three strings.
        let wasDetached = goldenReference.kind == .detached
        goldenReference = reference
        if wasDetached {
            updateSettlement(clearing: true) { $0.detachedGolden = nil }
        }
    }

    /// Sets a detached golden value (`reference` says detached), held out of line.
    mutating func setGolden(_ reference: GoldenReference, detached: GoldenValue) {
        goldenReference = reference
        updateSettlement(clearing: false) { $0.detachedGolden = detached }
    }

    /// Keeps the golden value as it is while what it refers to is about to change.
    private mutating func detachGolden() {
        guard let g = golden else { return }
        setGolden(GoldenReference(detachedWithConflict: g.conflict), detached: g)
    }

    /// A steward's pinned value.
    public var pin: Pin? {
        get { settlement?.pin }
        set {
            if goldenReference.kind == .pin { detachGolden() }
            updateSettlement(clearing: newValue == nil) { $0.pin = newValue }
        }
    }
    /// The open conflict on this attribute, if any.
    public var openConflict: UInt64? {
        get { settlement?.openConflict }
        set { updateSettlement(clearing: newValue == nil) { $0.openConflict = newValue } }
    }
    /// The last conflict on this attribute (open or resolved).
    public var lastConflict: UInt64? {
        get { settlement?.lastConflict }
        set { updateSettlement(clearing: newValue == nil) { $0.lastConflict = newValue } }
    }
    /// The values a steward has seen and settled; a disagreement among only these does
    /// not re-open a conflict.
    public var settledValues: [String] {
        get { settlement?.settledValues ?? [] }
        set { updateSettlement(clearing: newValue.isEmpty) { $0.settledValues = newValue } }
    }

    /// The out-of-line fields; a reference shared between copies until one of them writes.
    /// Unchecked `Sendable` on the terms of an array's buffer: it is changed only through
    /// ``updateSettlement(_:)``, and only when uniquely referenced, so a shared one is never
    /// written.
    private final class Settlement: @unchecked Sendable {
        var pin: Pin?
        var openConflict: UInt64?
        var lastConflict: UInt64?
        var settledValues: [String] = []
        /// A golden value taken from no statement or pin held now (one kept while its
        /// statement was superseded, for an attribute the configuration no longer has).
        var detachedGolden: GoldenValue?
        init() {}
        init(copying other: Settlement) {
            pin = other.pin; openConflict = other.openConflict
            lastConflict = other.lastConflict; settledValues = other.settledValues
            detachedGolden = other.detachedGolden
        }
        var isEmpty: Bool {
            pin == nil && openConflict == nil && lastConflict == nil && settledValues.isEmpty && detachedGolden == nil
        }
    }

    /// Changes the out-of-line fields, copying them first when another state shares them, and
    /// dropping them when they end up empty (so equal states hold equal representations).
    /// `clearing`: the change sets a field to nil or empty, which needs nothing allocated when
    /// none is held (decoding a stored record sets every field, most of them to nothing).
    private mutating func updateSettlement(clearing: Bool, _ body: (Settlement) -> Void) {
        if settlement == nil {
            if clearing { return }
            settlement = Settlement()
        } else if !isKnownUniquelyReferenced(&settlement), let shared = settlement {
            settlement = Settlement(copying: shared)
        }
        guard let own = settlement else { return }
        body(own)
        if own.isEmpty { settlement = nil }
    }

    public static func == (a: AttributeState, b: AttributeState) -> Bool {
        a.statements == b.statements && a.golden == b.golden && a.pin == b.pin && a.openConflict == b.openConflict
            && a.lastConflict == b.lastConflict && a.settledValues == b.settledValues
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(statements); hasher.combine(golden); hasher.combine(pin)
        hasher.combine(openConflict); hasher.combine(lastConflict); hasher.combine(settledValues)
    }

    public init() {}

    /// The values departments hold (statements neither retracted nor rejected), in the
    /// statements' order, without a list of the active statements on the way.
    public var heldValues: [String] {
        var out: [String] = []
        for i in statements.indices where statements[i].isActive {
            if let v = statements[i].value { out.append(v) }
        }
        return out
    }

    /// Keeps a source's statement only when it supersedes the one already held. Takes the
    /// statement (moved in, not copied). The golden value stays as it was: when its own
    /// statement is superseded, it is kept detached until the next survivorship.
    mutating func record(_ statement: consuming Statement) {
        if let replaced = recordBeforeSurvivorship(statement) {
            let conflict = goldenReference.conflict
            setGolden(GoldenReference(detachedWithConflict: conflict), detached: GoldenValue(replaced, value: replaced.value ?? "", conflict: conflict))
        }
    }

    /// ``record(_:)`` for a caller that recomputes the golden value next: when the statement
    /// supersedes the golden value's own, it is returned (the golden value before the change,
    /// with ``GoldenReference/conflict``) and the reference is left on the new statement
    /// until the caller sets it, with nothing copied out of line.
    mutating func recordBeforeSurvivorship(_ statement: consuming Statement) -> Statement? {
        recordBeforeSurvivorship(source: statement.source, eventId: statement.eventId, position: statement.position,
                                 time: statement.time, value: statement.value, rejected: statement.rejected)
    }

    /// ``recordBeforeSurvivorship(_:)`` of the statement these fields make. The statement is
    /// made here, where it is stored: one made by the caller and passed in was copied on the
    /// way, its strings retained and released again (the fold's every assertion).
    /// `rejected`: kept as the caller had it (a merge folds in the absorbed record's
    /// statements, a steward's rejection included).
    mutating func recordBeforeSurvivorship(source: String, eventId: String, position: UInt64, time: Int64, value: String?,
                                           rejected: Bool = false) -> Statement? {
        // Found by identity first (statements carry the configuration's own department codes).
        // A closure, not a key path: the key path's getter copied each statement's source.
        if let i = statements.firstIndex(named: source, by: { $0.source }) {
            guard Statement.supersedes(time: time, position: position, statements[i].time, statements[i].position) else { return nil }
            let statement = Statement(source: source, eventId: eventId, position: position, time: time, value: value, rejected: rejected)
            if goldenReference.kind == .statement(i) {
                return exchange(&statements[i], with: statement)
            }
            statements[i] = statement
        } else {
            let statement = Statement(source: source, eventId: eventId, position: position, time: time, value: value, rejected: rejected)
            // No room reserved ahead: nine attributes in ten have a single source (the
            // benchmark's city: 1.08 sources per attribute), and room for four held 70 MB of a
            // rebuild's 360 MB unused.
            // Appended when it sorts last (a first statement always does): `insert(_:at:)` goes
            // through the general replacement of a range.
            if let at = statements.firstIndex(where: { $0.source > source }) {
                statements.insert(statement, at: at)
                goldenReference.shiftStatement(insertedAt: at)
            } else {
                statements.append(statement)
            }
        }
        return nil
    }
}

/// Where an attribute's golden value is taken from, in four bytes: nothing, the statement at
/// an index, the pin, or a value held out of line (detached); and its conflict flag.
struct GoldenReference: Sendable, Hashable {
    enum Kind: Equatable { case none, statement(Int), pin, detached }

    /// Low two bits: the kind; bit 2: the conflict flag; the rest: a statement's index.
    private var bits: UInt32

    static let none = GoldenReference(bits: 0)
    private init(bits: UInt32) { self.bits = bits }
    init(statement index: Int, conflict: Bool) { bits = UInt32(index) << 3 | (conflict ? 4 : 0) | 1 }
    init(pinWithConflict conflict: Bool) { bits = (conflict ? 4 : 0) | 2 }
    init(detachedWithConflict conflict: Bool) { bits = (conflict ? 4 : 0) | 3 }

    var kind: Kind {
        switch bits & 3 {
        case 0: return .none
        case 1: return .statement(Int(bits >> 3))
        case 2: return .pin
        default: return .detached
        }
    }
    var conflict: Bool { bits & 4 != 0 }

    /// Follows the referenced statement when another is inserted at `index`, before it.
    mutating func shiftStatement(insertedAt index: Int) {
        if case .statement(let k) = kind, k >= index { bits += 1 << 3 }
    }
}

/// The projection state of one subject: the golden record and what it was built from.
public struct SubjectState: Sendable, Hashable {
    public var subject: Subject
    /// Increases by one with each change to a golden value.
    public var version: UInt64 = 0
    /// Number of events applied.
    public var eventCount: UInt64 = 0
    /// Position of the last applied event.
    public var lastPosition: UInt64 = 0
    public var attributes = AttributeTable()
    /// Identity resolution's part of the record; nil for a record no local record joined.
    public var identity: IdentityInfo? {
        get { identityBox?.info }
        set { identityBox = newValue.map(IdentityBox.init) }
    }
    /// Held out of line: most records have none, and the state, copied into drafts and
    /// cache generations and stored in dictionaries of tens of thousands, is a third smaller
    /// without its 56 bytes. Immutable, so copies share it safely.
    private var identityBox: IdentityBox?

    /// Compared and hashed by what it holds, so the state's own conformances stay derived.
    private final class IdentityBox: Sendable, Hashable {
        let info: IdentityInfo
        init(_ info: IdentityInfo) { self.info = info }
        static func == (a: IdentityBox, b: IdentityBox) -> Bool { a.info == b.info }
        func hash(into hasher: inout Hasher) { hasher.combine(info) }
    }

    public init(subject: Subject) { self.subject = subject }

    /// Whether the state is as ``init(subject:)`` made it: nothing applied, nothing held.
    public var isUnseen: Bool {
        eventCount == 0 && version == 0 && lastPosition == 0 && attributes.isEmpty && identityBox == nil
    }

    /// Where this subject reads from: a local record's golden record, or an absorbed
    /// record's survivor (nil for a golden record in its own right).
    public var mergedInto: Subject? { identity?.mergedInto }
    /// The local records (crosswalks) and absorbed records whose events this one folds.
    public var members: [Subject] { identity?.members ?? [] }

    /// Changes the identity part, dropping it when it ends up empty.
    public mutating func updateIdentity(_ body: (inout IdentityInfo) -> Void) {
        var info = identity ?? IdentityInfo()
        body(&info)
        identity = info.isEmpty ? nil : info
    }

    public func golden(_ attribute: String) -> GoldenValue? { attributes.golden(attribute) }

    /// The golden value of `attribute` without its lineage (no copy of the lineage's strings).
    public func goldenText(_ attribute: String, orderWord: UInt64? = nil) -> String? {
        attributes.goldenText(attribute, orderWord: orderWord)
    }

    /// Every value some department currently holds of `attribute` (not retracted, not
    /// rejected): what matching compares, not only the golden value.
    public func heldValues(_ attribute: String) -> [String] { attributes.heldValues(attribute) }

    /// Whether ``heldValues(_:)`` of `attribute` is not empty (without making the list).
    public func holdsValue(_ attribute: String) -> Bool { attributes.holdsValue(attribute) }

    /// ``heldValues(_:)`` of each of `attributes` that has any.
    public func heldValues(_ attributes: some Sequence<String>) -> [String: [String]] {
        var out: [String: [String]] = [:]
        for a in attributes {
            let v = heldValues(a)
            if !v.isEmpty { out[a] = v }
        }
        return out
    }
}

/// What identity resolution records on a subject.
public struct IdentityInfo: Sendable, Hashable {
    /// For a local record: its golden record; for an absorbed golden record: the survivor.
    public var mergedInto: Subject?
    /// For a golden record: the local records linked into it and the records it absorbed,
    /// in the order they joined.
    public var members: [Subject] = []
    /// Records a steward declared different entities: never proposed again.
    public var distinct: [Subject] = []
    public init() {}
    var isEmpty: Bool { mergedInto == nil && members.isEmpty && distinct.isEmpty }
}
