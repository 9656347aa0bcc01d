import JSON
import YidangStore

/// The answer to a publish, written straight into bytes: built first as a tree of
/// ``JSONValue``s, a 1000-event request's answer (an object, five members and a handful of
/// allocations per event, then the document copied as it grew) was ~3 % of the server's
/// CPU under the bulk NDJSON load.
enum EventAnswer {
    /// `{"accepted":…,"duplicate":…,"rejected":…,"results":[…]}`, one result per event in
    /// request order (``write(index:_:_:into:)``).
    static func batch(_ admissions: [Admission], _ outcomes: [AppendResult], accepted: Int, duplicate: Int, rejected: Int) -> [UInt8] {
        var w = JSONWriter(capacity: 64 + outcomes.count * 96)
        w.writeRaw(#"{"accepted":"#); w.writeInteger(accepted)
        w.writeRaw(#","duplicate":"#); w.writeInteger(duplicate)
        w.writeRaw(#","rejected":"#); w.writeInteger(rejected)
        w.writeRaw(#","results":["#)
        for (index, (admission, outcome)) in zip(admissions, outcomes).enumerated() {
            if index > 0 { w.writeRaw(",") }
            write(index: index, admission, outcome, into: &w)
        }
        w.writeRaw("]}")
        return w.bytes
    }

    /// One event's result: `index`, then `id` and `source` when known, then `status`
    /// (`accepted` or `duplicate` with the `position`, or `rejected` with the `problem`).
    static func write(index: Int, _ admission: Admission, _ outcome: AppendResult, into w: inout JSONWriter) {
        w.writeRaw(#"{"index":"#); w.writeInteger(index)
        if let id = admission.id { w.writeRaw(#","id":"#); w.writeString(id) }
        if case .success(let e) = admission.result { w.writeRaw(#","source":"#); w.writeString(e.source) }
        switch outcome {
        case .accepted(let p): w.writeRaw(#","status":"accepted","position":"#); w.writeInteger(p)
        case .duplicate(let p): w.writeRaw(#","status":"duplicate","position":"#); w.writeInteger(p)
        case .rejected(let rej): w.writeRaw(#","status":"rejected","problem":"#); w.write(Problem.rejected(rej).json)
        }
        w.writeRaw("}")
    }
}
