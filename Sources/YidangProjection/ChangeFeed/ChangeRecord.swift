import YidangModel

/// One attribute's change in a golden record.
public struct AttributeChange: Sendable, Hashable {
    public var attribute: String
    public var old: String?
    public var new: String?
    public var oldSource: String?
    public var source: String?
    public var conflict: Bool
}

/// A record on the change feed: a golden-record delta, or a correction notice.
public struct ChangeRecord: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable {
        /// A golden record changed.
        case golden = "golden.changed"
        /// A steward rejected a department's value: 整改 requested from `department`.
        case correction = "correction.requested"
        /// `related` was absorbed into `subject` (the survivor); it reads as the survivor.
        case merged = "golden.merged"
        /// A local record left `related` for its own golden record, `subject`.
        case unmerged = "golden.unmerged"

        var storageByte: UInt8 {
            switch self {
            case .golden: return 0
            case .correction: return 1
            case .merged: return 2
            case .unmerged: return 3
            }
        }
        init?(storageByte: UInt8) {
            switch storageByte {
            case 0: self = .golden
            case 1: self = .correction
            case 2: self = .merged
            case 3: self = .unmerged
            default: return nil
            }
        }
    }
    /// Change position (1, 2, 3…); assigned by the store.
    public var position: UInt64 = 0
    public var kind: Kind
    /// Log position of the causing event.
    public var logPosition: UInt64
    public var subject: Subject
    public var version: UInt64
    /// The golden regionCode after the change (for region filters).
    public var regionCode: String?
    public var changes: [AttributeChange] = []
    public var conflictsOpened: [UInt64] = []
    public var conflictsClosed: [UInt64] = []
    /// The ids of the events that caused it (one, as the fold writes them).
    public var eventIds: [String] {
        get {
            switch causes {
            case .none: return []
            case .one(let id): return [id]
            case .many(let ids): return ids
            }
        }
        set { causes = Causes(newValue) }
    }
    /// `eventIds`, held without an array in the case the fold makes: every record has one
    /// cause, and an array of one cost an allocation per event of a replay.
    private var causes = Causes.none
    private enum Causes: Sendable, Hashable {
        case none
        case one(String)
        case many([String])
        /// One representation per list, so that equal lists compare and hash equal.
        init(_ ids: [String]) {
            switch ids.count {
            case 0: self = .none
            case 1: self = .one(ids[0])
            default: self = .many(ids)
            }
        }
    }
    /// Sets the one causing event.
    public mutating func setCause(_ eventId: String) { causes = .one(eventId) }
    /// Calls `body` with each causing event's id, in order, without making an array.
    public func forEachCause(_ body: (borrowing String) -> Void) {
        switch causes {
        case .none: break
        case .one(let id): body(id)
        case .many(let ids): ids.withUnsafeBufferPointer { for i in $0.indices { body($0[i]) } }
        }
    }
    /// The number of causing events.
    public var causeCount: Int {
        switch causes {
        case .none: return 0
        case .one: return 1
        case .many(let ids): return ids.count
        }
    }
    /// Ingest time of the causing event (µs).
    public var time: Int64
    // A correction notice's fields, and a merge's or an unmerge's `related`: held out of line
    // (``notice``), since a golden change, nearly every record, has none of them. Inline, they
    // made the record about twice as large, and the fold moves every record several times
    // (callgrind, the registry snapshot's rebuild: 70 M instructions of copies on the fold's
    // thread). The stored form writes an absent notice as its seven absent fields.
    public var department: String? { get { noticeField(\.department) } set { setNoticeField(\.department, newValue) } }
    public var attribute: String? { get { noticeField(\.attribute) } set { setNoticeField(\.attribute, newValue) } }
    public var conflictId: UInt64? { get { noticeField(\.conflictId) } set { setNoticeField(\.conflictId, newValue) } }
    public var rejectedValue: String? { get { noticeField(\.rejectedValue) } set { setNoticeField(\.rejectedValue, newValue) } }
    public var rejectedEventId: String? { get { noticeField(\.rejectedEventId) } set { setNoticeField(\.rejectedEventId, newValue) } }
    public var steward: String? { get { noticeField(\.steward) } set { setNoticeField(\.steward, newValue) } }
    public var note: String? { get { noticeField(\.note) } set { setNoticeField(\.note, newValue) } }
    /// Merges: the absorbed subject; unmerges: the golden record the local record left.
    public var related: Subject? { get { noticeField(\.related) } set { setNoticeField(\.related, newValue) } }

    /// The fields above, nil while every one of them is nil (one representation per value,
    /// so that equal records compare and hash equal).
    private(set) var notice: Notice?
    /// A box (an indirect case) that copies share until one of them sets a field.
    indirect enum Notice: Sendable, Hashable {
        case fields(NoticeFields)
        var fields: NoticeFields { switch self { case .fields(let f): return f } }
    }
    struct NoticeFields: Sendable, Hashable {
        var department: String?
        var attribute: String?
        var conflictId: UInt64?
        var rejectedValue: String?
        var rejectedEventId: String?
        var steward: String?
        var note: String?
        var related: Subject?
        var isEmpty: Bool {
            department == nil && attribute == nil && conflictId == nil && rejectedValue == nil && rejectedEventId == nil
                && steward == nil && note == nil && related == nil
        }
    }
    /// Holds `fields` (nothing when every one of them is nil).
    mutating func setNotice(_ fields: NoticeFields) { notice = fields.isEmpty ? nil : .fields(fields) }
    /// One field of the notice; nil without one (a golden change reads no further).
    private func noticeField<Value>(_ field: KeyPath<NoticeFields, Value?>) -> Value? { notice?.fields[keyPath: field] }
    /// Sets one field of the notice, dropping the notice when that leaves it empty.
    private mutating func setNoticeField<Value>(_ field: WritableKeyPath<NoticeFields, Value?>, _ value: Value?) {
        var fields = notice?.fields ?? NoticeFields()
        fields[keyPath: field] = value
        setNotice(fields)
    }

    public init(kind: Kind, logPosition: UInt64, subject: Subject, version: UInt64, time: Int64) {
        self.kind = kind; self.logPosition = logPosition; self.subject = subject; self.version = version; self.time = time
    }
}
