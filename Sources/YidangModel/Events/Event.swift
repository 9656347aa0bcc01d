import JSON

/// A golden-record subject: `person/<公民身份号码>` or `enterprise/<统一社会信用代码>`.
///
/// The identifier (18 ASCII characters for both kinds) is kept packed in three machine
/// words rather than as a `String`: a subject is copied, hashed and compared for every
/// event the fold sees, and a packed one costs no reference counting or allocation. An
/// identifier longer than 24 bytes is kept as a string; either way `id` reads the same.
public struct Subject: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let kind: EntityKind
    private let storage: Storage

    private enum Storage: Sendable {
        /// UTF-8 bytes in order, little-endian within each word, zero-padded, and their count.
        case packed(UInt64, UInt64, UInt64, UInt8)
        case text(String)
    }

    public init(kind: EntityKind, id: String) {
        self.kind = kind
        var id = id
        storage = id.withUTF8 { Subject.pack($0) } ?? .text(id)
    }

    /// A subject from the UTF-8 bytes of its identifier (no string is made when they fit).
    public init(kind: EntityKind, idBytes: UnsafeBufferPointer<UInt8>) {
        self.kind = kind
        storage = Subject.pack(idBytes) ?? .text(String(decoding: idBytes, as: UTF8.self))
    }

    /// A subject from its identifier's UTF-8 bytes, read in place (packed as ``init(kind:idBytes:)`` packs them).
    public init(kind: EntityKind, id bytes: Span<UInt8>) {
        self.kind = kind
        storage = bytes.withUnsafeBufferPointer { Subject.pack($0) ?? .text(String(decoding: $0, as: UTF8.self)) }
    }

    private static func pack(_ bytes: UnsafeBufferPointer<UInt8>) -> Storage? {
        guard bytes.count <= 24 else { return nil }
        var words: (UInt64, UInt64, UInt64) = (0, 0, 0)
        withUnsafeMutableBytes(of: &words) { raw in
            for i in bytes.indices { raw[i] = bytes[i] }
        }
        return .packed(UInt64(littleEndian: words.0), UInt64(littleEndian: words.1), UInt64(littleEndian: words.2), UInt8(bytes.count))
    }

    /// The normalized identifier.
    public var id: String {
        switch storage {
        case .text(let s): return s
        case .packed: return withIDBytes { String(decoding: $0, as: UTF8.self) }
        }
    }

    /// Lends the identifier's UTF-8 bytes.
    public func withIDBytes<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        switch storage {
        case .text(let s):
            var s = s
            return try s.withUTF8(body)
        case let .packed(a, b, c, count):
            var words = (a.littleEndian, b.littleEndian, c.littleEndian)
            return try withUnsafeBytes(of: &words) { raw in
                try body(UnsafeBufferPointer(start: raw.bindMemory(to: UInt8.self).baseAddress, count: Int(count)))
            }
        }
    }

    /// The identifier's length in UTF-8 bytes.
    public var idByteCount: Int {
        switch storage {
        case .text(let s): return s.utf8.count
        case .packed(_, _, _, let count): return Int(count)
        }
    }

    public var description: String { "\(kind.rawValue)/\(id)" }
    public static func < (a: Subject, b: Subject) -> Bool { a.description < b.description }

    /// Equal kinds and identifiers. Written out rather than derived: the derived one copied
    /// both identifiers (a retain for each spelled-out one) before comparing them.
    public static func == (a: Subject, b: Subject) -> Bool {
        guard a.kind == b.kind else { return false }
        if case let .packed(a0, a1, a2, an) = a.storage {
            guard case let .packed(b0, b1, b2, bn) = b.storage else { return false }
            return a0 == b0 && a1 == b1 && a2 == b2 && an == bn
        }
        guard case let .text(x) = a.storage, case let .text(y) = b.storage else { return false }
        return x == y
    }

    /// Feeds the hasher the kind's byte and the packed words (or the spelled-out identifier):
    /// the same input for equal subjects, and different input for different ones, as the
    /// process's seeded hash needs to stay safe from chosen collisions. Derived, the kind
    /// was hashed as its raw string (`person`) and the storage's case besides; subjects are
    /// hashed several times per event (the fold's caches, the load's filters).
    public func hash(into hasher: inout Hasher) {
        switch storage {
        case let .packed(a, b, c, count):
            hasher.combine(a)
            hasher.combine(b)
            hasher.combine(c)
            hasher.combine(UInt16(count) << 8 | UInt16(kind.storageByte))
        case let .text(s):
            hasher.combine(UInt16(0xFF00) | UInt16(kind.storageByte))
            hasher.combine(s)
        }
    }

    /// What dictionaries and sets call: a subject is hashed several times per event, and
    /// Hasher's rounds over its 26 bytes were a tenth of the fold's time (perf of the
    /// registry snapshot's import). A packed subject is mixed instead by wyhash's step (a
    /// full-width multiply, its halves folded) over its words, keyed by a secret drawn at
    /// random per process, as Hasher's own seed is, and by the table's seed: which
    /// identifiers collide cannot be chosen ahead. Equal subjects hash alike; a spelled-out
    /// identifier goes through Hasher.
    public func _rawHashValue(seed: Int) -> Int {
        guard case let .packed(a, b, c, count) = storage else {
            var hasher = Hasher()
            hasher.combine(seed)
            hash(into: &hasher)
            return hasher.finalize()
        }
        @inline(__always) func mum(_ x: UInt64, _ y: UInt64) -> UInt64 {
            let p = x.multipliedFullWidth(by: y)
            return p.high ^ p.low
        }
        let key = Subject.hashSecret ^ UInt64(bitPattern: Int64(seed))
        let tag = UInt64(count) << 8 | UInt64(kind.storageByte)
        var h = mum(a ^ key, b ^ 0xE703_7ED1_A0B4_28DB)
        h = mum(h ^ c, tag ^ key ^ 0xA076_1D64_78BD_642F)
        return Int(truncatingIfNeeded: mum(h ^ 0x8EBC_6AF0_9C88_C6E3, key ^ 0x5899_65CC_7537_4CC3))
    }

    /// The process's hash key for packed subjects (see ``_rawHashValue(seed:)``).
    private static let hashSecret = UInt64.random(in: .min ... .max) | 1
}

/// One attribute value asserted by an event, already normalized.
public struct Assertion: Sendable, Hashable {
    public let attribute: String
    public let value: String
    public init(attribute: String, value: String) { self.attribute = attribute; self.value = value }
}

/// A steward's decision on a conflict.
public struct StewardDecision: Sendable, Hashable {
    public enum Action: String, Sendable, Hashable { case accept, pin, reject }
    public let conflictId: UInt64
    public let attribute: String
    public let action: Action
    /// For `pin`: the normalized pinned value.
    public let value: String?
    /// For `reject`: the department whose value is wrong.
    public let rejectedSource: String?
    public let steward: String
    public let note: String?
    public init(conflictId: UInt64, attribute: String, action: Action, value: String?, rejectedSource: String?, steward: String, note: String?) {
        self.conflictId = conflictId; self.attribute = attribute; self.action = action
        self.value = value; self.rejectedSource = rejectedSource; self.steward = steward; self.note = note
    }
}

/// What an event means for the projection.
public enum EventBody: Sendable, Hashable {
    /// `*.updated` and business types: these attribute values are asserted.
    case assert([Assertion])
    /// `*.retracted`: this source withdraws its assertions of these attributes.
    case retract([String])
    /// `steward.resolved`: a steward settles a conflict.
    case steward(StewardDecision)
    /// `identity.*`: the matcher or a steward links, merges or separates records.
    case identity(IdentityDecision)
}

/// A validated event, as stored in the log.
///
/// What was published is immutable and shared: copying an event (validator → writer →
/// projection → log) costs one reference count, not one per field. Only the hub's own
/// `position` and `ingestTime` are set on the copy being appended.
public struct Event: Sendable, Hashable {
    private final class Content: Sendable {
        let id: String
        let source: String
        let type: String
        let subject: Subject
        let time: Int64
        let timeText: String
        let dataContentType: String?
        let data: JSONValue
        let extensions: JSONObject
        let body: EventBody
        let isStewardDecision: Bool
        let isIdentityDecision: Bool
        init(id: String, source: String, type: String, subject: Subject, time: Int64, timeText: String,
             dataContentType: String?, data: JSONValue, extensions: JSONObject, body: EventBody) {
            self.id = id; self.source = source; self.type = type; self.subject = subject; self.time = time
            self.timeText = timeText; self.dataContentType = dataContentType; self.data = data
            self.extensions = extensions; self.body = body
            if case .steward = body { isStewardDecision = true } else { isStewardDecision = false }
            if case .identity = body { isIdentityDecision = true } else { isIdentityDecision = false }
        }
    }
    private let content: Content

    // Read in place (`_read`): the fold reads the id, source, subject and body of every event,
    // and a getter's copy retained each on a cache line the reading thread had just written.
    public var id: String { _read { yield content.id } }
    public var source: String { _read { yield content.source } }
    public var type: String { content.type }
    public var subject: Subject { _read { yield content.subject } }
    /// Effective time: when the fact became true at the source (µs since epoch).
    public var time: Int64 { content.time }
    /// `time` as published.
    public var timeText: String { content.timeText }
    public var dataContentType: String? { content.dataContentType }
    /// `data` as published.
    public var data: JSONValue { content.data }
    /// CloudEvents extension attributes, as published.
    public var extensions: JSONObject { content.extensions }
    public var body: EventBody { _read { yield content.body } }
    /// Whether the body is a steward's decision (asked without copying the body).
    public var isStewardDecision: Bool { content.isStewardDecision }
    /// Whether the body is an identity decision (asked without copying the body).
    public var isIdentityDecision: Bool { content.isIdentityDecision }
    /// The identity decision the event carries, if any.
    public var identityDecision: IdentityDecision? {
        guard content.isIdentityDecision, case .identity(let d) = content.body else { return nil }
        return d
    }

    /// The same event about `subject` instead: a local record's event as its golden record
    /// folds it. Not stored: the log keeps the event as published.
    public func resolved(to subject: Subject) -> Event {
        var e = Event(id: id, source: source, type: type, subject: subject, time: time, timeText: timeText,
                      dataContentType: dataContentType, data: data, extensions: extensions, body: body)
        e.position = position
        e.ingestTime = ingestTime
        return e
    }
    /// Global log position (1, 2, 3…); 0 until appended.
    public var position: UInt64 = 0
    /// When the hub ingested it (µs since epoch); 0 until appended.
    public var ingestTime: Int64 = 0

    public init(id: String, source: String, type: String, subject: Subject, time: Int64, timeText: String,
                dataContentType: String?, data: JSONValue, extensions: JSONObject = JSONObject(), body: EventBody) {
        content = Content(id: id, source: source, type: type, subject: subject, time: time, timeText: timeText,
                          dataContentType: dataContentType, data: data, extensions: extensions, body: body)
    }

    public static func == (a: Event, b: Event) -> Bool {
        a.position == b.position && a.ingestTime == b.ingestTime && (a.content === b.content || (
            a.id == b.id && a.source == b.source && a.type == b.type && a.subject == b.subject && a.time == b.time
            && a.timeText == b.timeText && a.dataContentType == b.dataContentType && a.data == b.data
            && a.extensions == b.extensions && a.body == b.body))
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(source)
        hasher.combine(id)
        hasher.combine(position)
    }

    /// Whether `other` publishes the same fact as this event: the same source, id, type,
    /// subject, effective instant, content type, extension attributes and data (object
    /// members in any order). The hub's own position and ingest time are not compared, nor
    /// how `time` was written (`+08:00` and `Z` of the same instant agree). An identical
    /// repeat of an event is a duplicate; the same (source, id) with other content is not.
    public func publishesSameContent(as other: Event) -> Bool {
        if content === other.content { return true }
        return id == other.id && source == other.source && type == other.type && subject == other.subject
            && time == other.time && dataContentType == other.dataContentType
            && JSONValue.object(extensions).sameMembers(as: .object(other.extensions)) && data.sameMembers(as: other.data)
    }

    /// The event as a CloudEvents 1.0 structured-mode JSON object, with the hub's own
    /// `position` and `ingesttime` extension attributes once stored.
    public var cloudEvent: JSONObject {
        var o = JSONObject()
        o["specversion"] = "1.0"
        o["id"] = .string(id)
        o["source"] = .string(source)
        o["type"] = .string(type)
        o["subject"] = .string(subject.publishedText)
        o["time"] = .string(timeText)
        if let dataContentType { o["datacontenttype"] = .string(dataContentType) }
        for (k, v) in extensions { o[k] = v }
        if position > 0 {
            o["position"] = JSONValue(position)
            o["ingesttime"] = .string(Timestamp.format(ingestTime))
        }
        o["data"] = data
        return o
    }
}
