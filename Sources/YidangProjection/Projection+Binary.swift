import JSON
import YidangModel

// Stored forms of the derived records. Attribute order is sorted so that equal states
// encode to equal bytes (verify compares bytes; golden records, which have two formats,
// by what they decode to).

extension BinaryWriter {
    mutating func optionalVarint(_ v: UInt64?) { if let v { byte(1); varint(v) } else { byte(0) } }
}

extension BinaryReader {
    mutating func optionalVarint() throws(BinaryDecodingError) -> UInt64? { try byte() == 0 ? nil : try varint() }
}

extension UnsafeBufferPointer where Element == AttributeState {
    /// Appends the stored form of the state at `i`, its fields read where they lie: a copy
    /// of the whole state (which calling a method on an element makes) retains and releases
    /// every string and array in it.
    func encode(_ i: Int, into w: inout BinaryWriter, format: UInt8 = SubjectState.formatVersion) {
        w.varint(UInt64(self[i].statements.count))
        self[i].statements.withUnsafeBufferPointer { statements in
            for j in statements.indices {
                w.string(statements[j].source); w.string(statements[j].eventId); w.varint(statements[j].position)
                w.int(statements[j].time); w.optionalString(statements[j].value); w.bool(statements[j].rejected)
            }
        }
        if let p = self[i].pin {
            w.byte(1); w.string(p.value); w.string(p.eventId); w.varint(p.position); w.int(p.time); w.string(p.steward)
        } else { w.byte(0) }
        // The golden value is the winning statement's or the pin's: stored as a reference to
        // it (format 2), about a third of the record less. A golden value that is neither
        // (kept while its statement was superseded, for an attribute the configuration no
        // longer has) is stored in full.
        let reference = self[i].goldenReference
        switch reference.kind {
        case .none:
            w.byte(GoldenTag.none)
        case .statement(let k) where format >= 2:
            w.byte(GoldenTag.statement); w.varint(UInt64(k)); w.bool(reference.conflict)
        case .pin where format >= 2:
            w.byte(GoldenTag.pin); w.bool(reference.conflict)
        case .statement, .pin, .detached:
            if let g = self[i].golden {
                w.byte(GoldenTag.explicit); w.string(g.value); w.string(g.source); w.string(g.eventId); w.varint(g.position)
                w.int(g.time); w.bool(g.conflict)
            }
        }
        w.optionalVarint(self[i].openConflict)
        w.optionalVarint(self[i].lastConflict)
        w.varint(UInt64(self[i].settledValues.count))
        for v in self[i].settledValues { w.string(v) }
    }
}

/// How a stored attribute state holds its golden value.
enum GoldenTag {
    static let none: UInt8 = 0
    /// In full: value, source, event id, position, time, conflict (format 1's only form).
    static let explicit: UInt8 = 1
    /// The statement at an index, and the conflict flag.
    static let statement: UInt8 = 2
    /// The pin, and the conflict flag.
    static let pin: UInt8 = 3
}

extension SubjectState {
    /// The stored format written: 2, golden values by reference. Format 1 (golden values
    /// in full) is still read.
    public static let formatVersion: UInt8 = 2

    /// The stored form, in format 2 unless told (format 1 is for tests of stores written
    /// before format 2).
    public func encoded(format: UInt8 = SubjectState.formatVersion) -> [UInt8] {
        var w = BinaryWriter(capacity: 1024)
        encode(into: &w, format: format)
        return w.bytes
    }

    /// Appends the stored form to `w` (a writer reused for many records allocates once).
    public func encode(into w: inout BinaryWriter, format: UInt8 = SubjectState.formatVersion) {
        // Format 3 is format 2 and the identity part, written only by records that have one.
        let format = identity != nil && format >= 2 ? 3 : format
        w.byte(format)
        w.subject(subject)
        w.varint(version)
        w.varint(eventCount)
        w.varint(lastPosition)
        w.varint(UInt64(attributes.count))
        attributes.encode(into: &w, format: format)
        if format >= 3, let identity {
            if let m = identity.mergedInto { w.byte(1); w.subject(m) } else { w.byte(0) }
            w.varint(UInt64(identity.members.count)); for m in identity.members { w.subject(m) }
            w.varint(UInt64(identity.distinct.count)); for d in identity.distinct { w.subject(d) }
        }
    }

    public init(encoded bytes: [UInt8]) throws(BinaryDecodingError) {
        self = try BinaryReader.read(bytes) { r throws(BinaryDecodingError) in try SubjectState(reading: &r) }
    }

    init(reading r: inout BinaryReader) throws(BinaryDecodingError) {
        let format = try r.byte()
        guard format >= 1 && format <= 3 else { throw BinaryDecodingError(offset: 0) }
        self.init(subject: try r.subject())
        version = try r.varint()
        eventCount = try r.varint()
        lastPosition = try r.varint()
        let n = try r.count()
        for _ in 0..<n {
            let name = try r.string()
            var a = AttributeState()
            let sn = try r.count()
            for _ in 0..<sn {
                let source = try r.string(), eventId = try r.string(), position = try r.varint(), time = try r.int()
                let value = try r.optionalString(), rejected = try r.bool()
                a.statements.append(Statement(source: source, eventId: eventId, position: position, time: time, value: value, rejected: rejected))
            }
            if try r.byte() == 1 {
                a.pin = Pin(value: try r.string(), eventId: try r.string(), position: try r.varint(), time: try r.int(), steward: try r.string())
            }
            switch try r.byte() {
            case GoldenTag.none: break
            case GoldenTag.explicit:
                // Held by reference when it is a statement's or the pin's (as format 1 stored them all).
                a.golden = GoldenValue(value: try r.string(), source: try r.string(), eventId: try r.string(),
                                       position: try r.varint(), time: try r.int(), conflict: try r.bool())
            case GoldenTag.statement where format >= 2:
                let k = try r.varint()
                guard k < UInt64(a.statements.count), a.statements[Int(k)].value != nil else { throw BinaryDecodingError(offset: r.index) }
                a.setGolden(GoldenReference(statement: Int(k), conflict: try r.bool()))
            case GoldenTag.pin where format >= 2:
                guard a.pin != nil else { throw BinaryDecodingError(offset: r.index) }
                a.setGolden(GoldenReference(pinWithConflict: try r.bool()))
            default: throw BinaryDecodingError(offset: r.index)
            }
            a.openConflict = try r.optionalVarint()
            a.lastConflict = try r.optionalVarint()
            let vn = try r.count()
            for _ in 0..<vn { a.settledValues.append(try r.string()) }
            attributes[name] = a
        }
        if format >= 3 {
            var info = IdentityInfo()
            if try r.byte() == 1 { info.mergedInto = try r.subject() }
            for _ in 0..<(try r.count()) { info.members.append(try r.subject()) }
            for _ in 0..<(try r.count()) { info.distinct.append(try r.subject()) }
            identity = info.isEmpty ? nil : info
        }
    }
}

extension Conflict {
    public func encoded() -> [UInt8] {
        var w = BinaryWriter(capacity: 256)
        w.byte(1)
        w.varint(id); w.subject(subject); w.string(attribute); w.bool(status == .open)
        w.varint(UInt64(candidates.count))
        for c in candidates { w.string(c.source); w.string(c.value); w.int(c.time); w.string(c.eventId); w.varint(c.position) }
        w.optionalString(winner)
        w.varint(openedPosition); w.int(openedTime); w.varint(updatedPosition)
        if let r = resolution {
            w.byte(1)
            w.string(r.action.rawValue); w.optionalString(r.steward); w.optionalString(r.note); w.optionalString(r.value)
            w.optionalString(r.source); w.string(r.eventId); w.varint(r.position); w.int(r.time)
        } else { w.byte(0) }
        return w.bytes
    }

    public init(encoded bytes: [UInt8]) throws(BinaryDecodingError) {
        self = try BinaryReader.read(bytes) { r throws(BinaryDecodingError) in try Conflict(reading: &r) }
    }

    init(reading r: inout BinaryReader) throws(BinaryDecodingError) {
        guard try r.byte() == 1 else { throw BinaryDecodingError(offset: 0) }
        id = try r.varint(); subject = try r.subject(); attribute = try r.string()
        status = try r.bool() ? .open : .resolved
        let n = try r.count()
        candidates = []
        for _ in 0..<n {
            candidates.append(Candidate(source: try r.string(), value: try r.string(), time: try r.int(), eventId: try r.string(), position: try r.varint()))
        }
        winner = try r.optionalString()
        openedPosition = try r.varint(); openedTime = try r.int(); updatedPosition = try r.varint()
        if try r.byte() == 1 {
            guard let action = Resolution.Action(rawValue: try r.string()) else { throw BinaryDecodingError(offset: r.index) }
            resolution = Resolution(action: action, steward: try r.optionalString(), note: try r.optionalString(), value: try r.optionalString(),
                                    source: try r.optionalString(), eventId: try r.string(), position: try r.varint(), time: try r.int())
        } else { resolution = nil }
    }
}

extension ChangeRecord {
    public func encoded() -> [UInt8] {
        var w = BinaryWriter(capacity: 512)
        encode(into: &w)
        return w.bytes
    }

    /// Appends the stored form to `w` (a writer reused for many records allocates once).
    public func encode(into w: inout BinaryWriter) {
        w.byte(1)
        w.varint(position); w.byte(kind.storageByte); w.varint(logPosition); w.subject(subject); w.varint(version)
        w.optionalString(regionCode)
        w.varint(UInt64(changes.count))
        // Read where they lie: iterating copies each element, retaining and releasing its strings.
        changes.withUnsafeBufferPointer { changes in
            for i in changes.indices {
                w.string(changes[i].attribute); w.optionalString(changes[i].old); w.optionalString(changes[i].new)
                w.optionalString(changes[i].oldSource); w.optionalString(changes[i].source); w.bool(changes[i].conflict)
            }
        }
        w.varint(UInt64(conflictsOpened.count)); for c in conflictsOpened { w.varint(c) }
        w.varint(UInt64(conflictsClosed.count)); for c in conflictsClosed { w.varint(c) }
        w.varint(UInt64(causeCount))
        forEachCause { w.string($0) }
        w.int(time)
        guard let notice else {
            // Seven absent fields (a byte 0 each) and no related subject.
            for _ in 0..<7 { w.byte(0) }
            return
        }
        let n = notice.fields
        w.optionalString(n.department); w.optionalString(n.attribute); w.optionalVarint(n.conflictId)
        w.optionalString(n.rejectedValue); w.optionalString(n.rejectedEventId); w.optionalString(n.steward); w.optionalString(n.note)
        if let related = n.related { w.subject(related) }
    }

    public init(encoded bytes: [UInt8]) throws(BinaryDecodingError) {
        self = try BinaryReader.read(bytes) { r throws(BinaryDecodingError) in try ChangeRecord(reading: &r) }
    }

    init(reading r: inout BinaryReader) throws(BinaryDecodingError) {
        guard try r.byte() == 1 else { throw BinaryDecodingError(offset: 0) }
        let position = try r.varint()
        guard let kind = Kind(storageByte: try r.byte()) else { throw BinaryDecodingError(offset: r.index) }
        let logPosition = try r.varint()
        let subject = try r.subject()
        let version = try r.varint()
        let region = try r.optionalString()
        var changes: [AttributeChange] = []
        let n = try r.count()
        for _ in 0..<n {
            changes.append(AttributeChange(attribute: try r.string(), old: try r.optionalString(), new: try r.optionalString(),
                                           oldSource: try r.optionalString(), source: try r.optionalString(), conflict: try r.bool()))
        }
        var opened: [UInt64] = [], closed: [UInt64] = [], ids: [String] = []
        for _ in 0..<(try r.count()) { opened.append(try r.varint()) }
        for _ in 0..<(try r.count()) { closed.append(try r.varint()) }
        for _ in 0..<(try r.count()) { ids.append(try r.string()) }
        let time = try r.int()
        self.init(kind: kind, logPosition: logPosition, subject: subject, version: version, time: time)
        self.position = position
        regionCode = region; self.changes = changes; conflictsOpened = opened; conflictsClosed = closed; eventIds = ids
        var f = NoticeFields()
        f.department = try r.optionalString(); f.attribute = try r.optionalString(); f.conflictId = try r.optionalVarint()
        f.rejectedValue = try r.optionalString(); f.rejectedEventId = try r.optionalString(); f.steward = try r.optionalString()
        f.note = try r.optionalString()
        if kind == .merged || kind == .unmerged { f.related = try r.subject() }
        setNotice(f)
    }
}
