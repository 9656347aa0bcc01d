import Foundation
import JSON
import YidangModel

/// A review task: the matcher found a candidate for a new record whose match probability
/// lies between `review` and `link`, so the record started a golden record of its own and a
/// steward decides. Derived from the identity decisions in the log (0x18).
public struct MatchTask: Sendable, Hashable {
    public enum Status: String, Sendable, Hashable, CaseIterable { case open, confirmed, rejected }
    public var id: UInt64
    /// The golden record the new local record started.
    public var record: Subject
    /// The existing golden record it may be.
    public var candidate: Subject
    /// Match probability ×10⁶ when the task opened.
    public var score: UInt32
    public var status: Status = .open
    public var openedPosition: UInt64
    public var openedTime: Int64
    /// The steward decision that settled it.
    public var decidedPosition: UInt64?
    public var steward: String?
    public var note: String?

    public var kind: EntityKind { record.kind }
    public var probability: Double { Double(score) / 1e6 }

    func encoded() -> [UInt8] {
        var w = BinaryWriter(capacity: 128)
        w.byte(1)
        w.varint(id); w.subject(record); w.subject(candidate); w.varint(UInt64(score)); w.string(status.rawValue)
        w.varint(openedPosition); w.int(openedTime); if let d = decidedPosition { w.byte(1); w.varint(d) } else { w.byte(0) }
        w.optionalString(steward); w.optionalString(note)
        return w.bytes
    }

    init(id: UInt64, record: Subject, candidate: Subject, score: UInt32, openedPosition: UInt64, openedTime: Int64) {
        self.id = id; self.record = record; self.candidate = candidate; self.score = score
        self.openedPosition = openedPosition; self.openedTime = openedTime
    }

    init(encoded bytes: [UInt8]) throws(BinaryDecodingError) {
        self = try BinaryReader.read(bytes) { r throws(BinaryDecodingError) in
            guard try r.byte() == 1 else { throw BinaryDecodingError(offset: 0) }
            var t = MatchTask(id: try r.varint(), record: try r.subject(), candidate: try r.subject(),
                              score: UInt32(truncatingIfNeeded: try r.varint()), openedPosition: 0, openedTime: 0)
            guard let status = Status(rawValue: try r.string()) else { throw BinaryDecodingError(offset: r.index) }
            t.status = status
            t.openedPosition = try r.varint(); t.openedTime = try r.int(); t.decidedPosition = try r.byte() == 1 ? try r.varint() : nil
            t.steward = try r.optionalString(); t.note = try r.optionalString()
            return t
        }
    }

    /// The `GET /v1/matches` shape.
    public var json: JSONObject {
        var o: JSONObject = ["id": JSONValue(id), "kind": .string(kind.rawValue), "status": .string(status.rawValue),
                             "record": .string(record.description), "candidate": .string(candidate.description),
                             "score": .number(String(format: "%.4f", probability)), "openedPosition": JSONValue(openedPosition),
                             "openedAt": .string(Timestamp.format(openedTime))]
        if let p = decidedPosition { o["decidedPosition"] = JSONValue(p) }
        if let s = steward { o["steward"] = .string(s) }
        if let n = note { o["note"] = .string(n) }
        return o
    }
}
