import YidangModel

/// One department's value in a conflict.
public struct Candidate: Sendable, Hashable {
    public var source: String
    public var value: String
    public var time: Int64
    public var eventId: String
    public var position: UInt64
}

/// How a conflict was settled.
public struct Resolution: Sendable, Hashable {
    public enum Action: String, Sendable, Hashable {
        case accept, pin, reject
        /// Closed without a steward: the departments agree again.
        case agreed
    }
    public var action: Action
    public var steward: String?
    public var note: String?
    /// The pinned value, or the value that stood.
    public var value: String?
    /// The rejected department (reject), or the winning one (accept).
    public var source: String?
    public var eventId: String
    public var position: UInt64
    /// Ingest time of the deciding event (µs).
    public var time: Int64

    public init(action: Action, steward: String?, note: String?, value: String?, source: String?, eventId: String, position: UInt64, time: Int64) {
        self.action = action; self.steward = steward; self.note = note; self.value = value
        self.source = source; self.eventId = eventId; self.position = position; self.time = time
    }
}

/// 数据打架: two or more departments currently assert different values of one attribute.
public struct Conflict: Sendable, Hashable {
    public enum Status: String, Sendable, Hashable { case open, resolved }
    public var id: UInt64
    public var subject: Subject
    public var attribute: String
    public var status: Status
    /// Each disagreeing department's value, ordered by survivorship rank (winner first).
    public var candidates: [Candidate]
    /// The survivorship winner (or the pin) while open; once settled, the decided value the
    /// golden record shows (the pin, or the winner among the values not rejected).
    public var winner: String?
    public var openedPosition: UInt64
    public var openedTime: Int64
    public var updatedPosition: UInt64
    public var resolution: Resolution?

    /// Departments whose value differs from the winning one.
    public var disagreeingSources: [String] {
        guard let first = candidates.first else { return [] }
        return candidates.filter { $0.value != first.value }.map(\.source)
    }
}
