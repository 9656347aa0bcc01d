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

    public init(source: String, eventId: String, position: UInt64, time: Int64, value: String?, rejected: Bool = false) {
        self.source = source; self.eventId = eventId; self.position = position
        self.time = time; self.value = value; self.rejected = rejected
    }

    /// Whether this statement supersedes `other` from the same source: later effective
    /// time, or the same time and a later log position. An older fact published later
    /// never overwrites a newer one.
    public func supersedes(_ other: Statement) -> Bool {
        time > other.time || (time == other.time && position > other.position)
    }

    /// Whether it takes part in survivorship.
    public var isActive: Bool { value != nil && !rejected }
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
/// Small, because a city holds a dozen for each of its subjects: the stewardship and
/// conflict bookkeeping most attributes never have (``pin``, ``openConflict``,
/// ``lastConflict``, ``settledValues``) is held out of line, copied on write, and read as
/// nil or empty where there is none. Equality and hashing are by value.
public struct AttributeState: Sendable, Hashable {
    /// One statement per source, sorted by source code.
    public var statements: [Statement] = []
    public var golden: GoldenValue?
    /// Nil while every one of its fields is nil or empty.
    private var settlement: Settlement?

    /// A steward's pinned value.
    public var pin: Pin? {
        get { settlement?.pin }
        set { updateSettlement(clearing: newValue == nil) { $0.pin = newValue } }
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
        init() {}
        init(copying other: Settlement) {
            pin = other.pin; openConflict = other.openConflict
            lastConflict = other.lastConflict; settledValues = other.settledValues
        }
        var isEmpty: Bool { pin == nil && openConflict == nil && lastConflict == nil && settledValues.isEmpty }
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

    /// Keeps a source's statement only when it supersedes the one already held.
    /// Takes the statement (moved in, not copied).
    mutating func record(_ statement: consuming Statement) {
        // Found by identity first (statements carry the configuration's own department codes).
        // A closure, not a key path: the key path's getter copied each statement's source.
        let source = statement.source
        if let i = statements.firstIndex(named: source, by: { $0.source }) {
            guard statement.supersedes(statements[i]) else { return }
            statements[i] = consume statement
        } else {
            // No room reserved ahead: nine attributes in ten have a single source (the
            // benchmark's city: 1.08 sources per attribute), and room for four held 70 MB of a
            // rebuild's 360 MB unused.
            // Appended when it sorts last (a first statement always does): `insert(_:at:)` goes
            // through the general replacement of a range.
            if let at = statements.firstIndex(where: { $0.source > source }) {
                statements.insert(consume statement, at: at)
            } else {
                statements.append(consume statement)
            }
        }
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
    public var identity: IdentityInfo?

    public init(subject: Subject) { self.subject = subject }

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
