import JSON

extension BinaryWriter {
    /// A subject: its kind byte, then its identifier as a length-prefixed string.
    public mutating func subject(_ s: Subject) {
        byte(s.kind.storageByte)
        varint(UInt64(s.idByteCount))
        s.withIDBytes { append($0) }
    }
}

extension BinaryReader {
    public mutating func subject() throws(BinaryDecodingError) -> Subject {
        let kind = EntityKind(storageByte: try byte())
        return try withStringBytes { Subject(kind: kind, idBytes: $0) }
    }
}

extension Event {
    static let formatVersion: UInt8 = 1

    /// The stored form: a versioned binary record holding the envelope as published, the
    /// normalized body, the log position and the ingest time.
    public func encoded() -> [UInt8] {
        var w = BinaryWriter(capacity: 256)
        w.byte(Event.formatVersion)
        w.varint(position)
        w.int(ingestTime)
        w.string(id)
        w.string(source)
        w.string(type)
        w.subject(subject)
        w.int(time)
        w.string(timeText)
        w.optionalString(dataContentType)
        w.json(.object(extensions))
        w.json(data)
        switch body {
        case .assert(let list):
            w.byte(0)
            w.varint(UInt64(list.count))
            for a in list { w.string(a.attribute); w.string(a.value) }
        case .retract(let names):
            w.byte(1)
            w.varint(UInt64(names.count))
            for n in names { w.string(n) }
        case .steward(let d):
            w.byte(2)
            w.varint(d.conflictId)
            w.string(d.attribute)
            w.string(d.action.rawValue)
            w.optionalString(d.value)
            w.optionalString(d.rejectedSource)
            w.string(d.steward)
            w.optionalString(d.note)
        case .identity(let d):
            w.byte(3)
            w.string(d.action.rawValue)
            w.subject(d.into)
            for s in [d.record, d.from, d.candidate] {
                if let s { w.byte(1); w.subject(s) } else { w.byte(0) }
            }
            if let t = d.task { w.byte(1); w.varint(t) } else { w.byte(0) }
            if let sc = d.score { w.byte(1); w.varint(UInt64(sc)) } else { w.byte(0) }
            w.string(d.actor)
            w.optionalString(d.note)
        }
        return w.bytes
    }

    /// Decodes a stored record.
    /// - Parameters:
    ///   - payload: false for a replay, which reads only what the fold needs: `data` is then
    ///     `null`, there are no extensions, `timeText` is empty and there is no content type
    ///     (all stepped over, not built).
    ///   - names: codes and names to share instead of decoding each anew (see
    ///     ``Configuration/names``).
    /// - Throws: ``BinaryDecodingError`` when the record is truncated or of an unknown version.
    public init(encoded bytes: [UInt8], payload: Bool = true, names: InternTable? = nil) throws(BinaryDecodingError) {
        self = try BinaryReader.read(bytes) { r throws(BinaryDecodingError) in try Event(reading: &r, payload: payload, names: names) }
    }

    /// Like ``init(encoded:payload:names:)``, from bytes lent for the call (a replay decodes each
    /// record where the log's iterator holds it).
    public init(encoded buffer: UnsafeBufferPointer<UInt8>, payload: Bool = true, names: InternTable? = nil) throws(BinaryDecodingError) {
        self = try BinaryReader.read(buffer: buffer) { r throws(BinaryDecodingError) in try Event(reading: &r, payload: payload, names: names) }
    }

    private init(reading r: inout BinaryReader, payload: Bool, names: InternTable?) throws(BinaryDecodingError) {
        let names = names ?? .empty
        guard try r.byte() == Event.formatVersion else { throw BinaryDecodingError(offset: 0) }
        let position = try r.varint()
        let ingest = try r.int()
        let id = try r.string()
        let source = try r.string(interning: names)
        let type = try r.string(interning: names)
        let subject = try r.subject()
        let time = try r.int()
        let timeText: String
        let contentType: String?
        let ext: JSONObject
        let data: JSONValue
        if payload {
            timeText = try r.string()
            contentType = try r.optionalString()
            guard case .object(let o) = try r.json() else { throw BinaryDecodingError(offset: r.index) }
            ext = o
            data = try r.json()
        } else {
            try r.skipString()
            if try r.byte() != 0 { try r.skipString() }
            timeText = ""
            contentType = nil
            try r.skipJSON()
            try r.skipJSON()
            ext = JSONObject()
            data = .null
        }
        let body: EventBody
        switch try r.byte() {
        case 0:
            let n = try r.count()
            var list: [Assertion] = []
            list.reserveCapacity(n)
            for _ in 0..<n { let a = try r.string(interning: names); list.append(Assertion(attribute: a, value: try r.string())) }
            body = .assert(list)
        case 1:
            let n = try r.count()
            var attributes: [String] = []
            for _ in 0..<n { attributes.append(try r.string(interning: names)) }
            body = .retract(attributes)
        case 2:
            let conflict = try r.varint()
            let attribute = try r.string(interning: names)
            guard let action = StewardDecision.Action(rawValue: try r.string()) else { throw BinaryDecodingError(offset: r.index) }
            let value = try r.optionalString()
            let rejected = try r.optionalString()
            let steward = try r.string()
            let note = try r.optionalString()
            body = .steward(StewardDecision(conflictId: conflict, attribute: attribute, action: action, value: value,
                                            rejectedSource: rejected, steward: steward, note: note))
        case 3:
            guard let action = IdentityDecision.Action(rawValue: try r.string()) else { throw BinaryDecodingError(offset: r.index) }
            let into = try r.subject()
            var subjects: [Subject?] = []
            for _ in 0..<3 { subjects.append(try r.byte() == 1 ? try r.subject() : nil) }
            let task: UInt64? = try r.byte() == 1 ? try r.varint() : nil
            let score: UInt32? = try r.byte() == 1 ? UInt32(truncatingIfNeeded: try r.varint()) : nil
            let actor = try r.string()
            let note = try r.optionalString()
            body = .identity(IdentityDecision(action: action, into: into, record: subjects[0], from: subjects[1], candidate: subjects[2],
                                              task: task, score: score, actor: actor, note: note))
        default: throw BinaryDecodingError(offset: r.index)
        }
        self.init(id: id, source: source, type: type, subject: subject, time: time, timeText: timeText,
                  dataContentType: contentType, data: data, extensions: ext, body: body)
        self.position = position
        self.ingestTime = ingest
    }
}
