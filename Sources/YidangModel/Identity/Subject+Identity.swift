/// Subjects that are not named by a national identifier (docs/ARCHITECTURE.md, "Identity
/// resolution"): a department's own record key, and the hub's own identifiers.
///
/// - A **local record** `person/local/<key>` published by department S is stored under the
///   subject id `local/<S>/<key>`: the pair (S, key) is a crosswalk, and two departments'
///   keys never collide. Its golden record is wherever the crosswalk points.
/// - A **hub identifier** `person/YD0000000042` names a golden record that has no national
///   identifier; numbers are allocated in log order and never reused.
extension Subject {
    /// The stored id of a local record: `local/<source>/<key>`.
    public static func local(kind: EntityKind, source: String, key: String) -> Subject {
        Subject(kind: kind, id: "local/" + source + "/" + key)
    }

    /// Whether this is a department's local record (a crosswalk), not a golden record.
    public var isLocal: Bool {
        withIDBytes { $0.count > 6 && $0[0] == UInt8(ascii: "l") && $0[5] == UInt8(ascii: "/") }
    }

    /// The department and key of a local record.
    public var crosswalk: (source: String, key: String)? {
        guard isLocal else { return nil }
        let rest = id.dropFirst(6)
        guard let slash = rest.firstIndex(of: "/") else { return nil }
        return (String(rest[..<slash]), String(rest[rest.index(after: slash)...]))
    }

    /// The subject as its publisher wrote it: `person/local/<key>` for a local record.
    public var publishedText: String {
        guard let c = crosswalk else { return description }
        return kind.rawValue + "/local/" + c.key
    }

    /// The hub identifier with `number`: `YD` and ten digits.
    public static func hub(kind: EntityKind, number: UInt64) -> Subject {
        let digits = String(number)
        return Subject(kind: kind, id: "YD" + String(repeating: "0", count: max(0, 10 - digits.count)) + digits)
    }

    /// The number of a hub identifier, or nil.
    public var hubNumber: UInt64? { Subject.hubNumber(id) }

    static func hubNumber(_ id: String) -> UInt64? {
        guard isHubIdentifier(id) else { return nil }
        return UInt64(id.dropFirst(2))
    }

    /// Whether `id` is a hub identifier (`YD` and ten digits); reads the bytes in place.
    public static func isHubIdentifier(_ id: String) -> Bool {
        let u = id.utf8
        guard u.count == 12 else { return false }
        var i = 0
        for c in u {
            let ok = i == 0 ? c == UInt8(ascii: "Y") : i == 1 ? c == UInt8(ascii: "D") : (c >= 48 && c <= 57)
            if !ok { return false }
            i += 1
        }
        return true
    }

    /// Checks a department's record key: 1–64 of `A-Z a-z 0-9 . _ : -`.
    /// - Throws: ``EventRejection`` on `field` naming the rule.
    public static func checkLocalKey(_ key: Substring, field: String) throws(EventRejection) {
        guard !key.isEmpty, key.utf8.count <= 64 else {
            throw EventRejection(field, .invalidSubject, "a local record key has 1 to 64 characters, got \(key.utf8.count)")
        }
        for c in key.utf8 {
            let ok = (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c == 46 || c == 95 || c == 58 || c == 45
            if !ok {
                throw EventRejection(field, .invalidSubject, "a local record key holds only A-Z a-z 0-9 . _ : -, got \"\(key)\"")
            }
        }
    }
}

/// A crosswalk: a department's record key for a subject.
public struct Crosswalk: Sendable, Hashable, Comparable {
    public var kind: EntityKind
    public var source: String
    public var key: String
    public init(kind: EntityKind, source: String, key: String) { self.kind = kind; self.source = source; self.key = key }
    /// The local record's stored subject.
    public var subject: Subject { .local(kind: kind, source: source, key: key) }
    public static func < (a: Crosswalk, b: Crosswalk) -> Bool { (a.source, a.key) < (b.source, b.key) }
}

/// A decision of identity resolution, made by the matcher or by a steward and stored as an
/// event (source `matcher` or `steward`), so that a replay reproduces every cluster.
public struct IdentityDecision: Sendable, Hashable {
    public enum Action: String, Sendable, Hashable, CaseIterable {
        /// A local record joins an existing golden record (`into`).
        case link
        /// A local record starts a golden record of its own (`into`: a new hub identifier,
        /// or the national identifier it carries); with `task`, a review task pairs it with
        /// `candidate`.
        case create
        /// The golden record `from` is absorbed into `into` (with `task`: a review task confirmed).
        case merge
        /// The local record `record` leaves its golden record for a new one (`into`).
        case unmerge
        /// The review task `task`: its two records are different entities.
        case distinct
    }
    public var action: Action
    /// The golden subject the decision is about (the event's subject).
    public var into: Subject
    /// link, create, unmerge: the local record.
    public var record: Subject?
    /// merge: the absorbed subject; distinct: the task's record.
    public var from: Subject?
    /// create: the candidate of the review task it opens; distinct: the other record.
    public var candidate: Subject?
    /// create: the review task it opens; merge, distinct: the task it settles.
    public var task: UInt64?
    /// The match probability (matcher decisions), ×10⁶ so that it stores exactly.
    public var score: UInt32?
    /// Who decided: `matcher` or the steward's name.
    public var actor: String
    public var note: String?

    public init(action: Action, into: Subject, record: Subject? = nil, from: Subject? = nil, candidate: Subject? = nil,
                task: UInt64? = nil, score: UInt32? = nil, actor: String, note: String? = nil) {
        self.action = action; self.into = into; self.record = record; self.from = from; self.candidate = candidate
        self.task = task; self.score = score; self.actor = actor; self.note = note
    }

    /// The event types of the decisions (`identity.<action>`).
    public var eventType: String { "identity." + action.rawValue }
    public static let eventTypes = Set(Action.allCases.map { "identity." + $0.rawValue })
}
