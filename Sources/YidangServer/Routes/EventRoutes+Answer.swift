import JSON
import YidangStore

/// The answer to a publish, written straight into bytes: built first as a tree of
/// ``JSONValue``s, a 1000-event request's answer (an object, five members and a handful of
/// allocations per event, then the document copied as it grew) was ~3 % of the server's
/// CPU under the bulk NDJSON load. Public for the bulk HTTP ceiling (`bench-publish-ceiling
/// --bulk`), which answers in the same shape at the same cost.
public enum EventAnswer {
    /// `{"accepted":…,"duplicate":…,"rejected":…,"results":[…]}`, one result per event in
    /// request order (``write(index:_:_:into:)``).
    static func batch(_ admissions: [Admission], _ outcomes: [AppendResult], accepted: Int, duplicate: Int, rejected: Int) -> [UInt8] {
        batch(count: outcomes.count, accepted: accepted, duplicate: duplicate, rejected: rejected) { index, w in
            write(index: index, admissions[index], outcomes[index], into: &w)
        }
    }

    /// The same for `count` events, `result(i, &writer)` writing the i-th one's result
    /// (``write(index:id:source:_:into:)``).
    public static func batch(count: Int, accepted: Int, duplicate: Int, rejected: Int,
                             result: (Int, inout JSONWriter) -> Void) -> [UInt8] {
        var w = JSONWriter(capacity: 64 + count * 96)
        w.writeRaw(#"{"accepted":"#); w.writeInteger(accepted)
        w.writeRaw(#","duplicate":"#); w.writeInteger(duplicate)
        w.writeRaw(#","rejected":"#); w.writeInteger(rejected)
        w.writeRaw(#","results":["#)
        for index in 0..<count {
            if index > 0 { w.writeRaw(",") }
            result(index, &w)
        }
        w.writeRaw("]}")
        return w.bytes
    }

    /// One admitted (or refused) event's result, its `id` and `source` as published.
    static func write(index: Int, _ admission: Admission, _ outcome: AppendResult, into w: inout JSONWriter) {
        var source: String?
        if case .success(let e) = admission.result { source = e.source }
        write(index: index, id: admission.id, source: source, outcome, into: &w)
    }

    /// One event's result: `index`, then `id` and `source` when known, then `status`
    /// (`accepted` or `duplicate` with the `position`, or `rejected` with the `problem`).
    public static func write(index: Int, id: String?, source: String?, _ outcome: AppendResult, into w: inout JSONWriter) {
        w.writeRaw(#"{"index":"#); w.writeInteger(index)
        if let id { w.writeRaw(#","id":"#); w.writeString(id) }
        if let source { w.writeRaw(#","source":"#); w.writeString(source) }
        switch outcome {
        case .accepted(let p): w.writeRaw(#","status":"accepted","position":"#); w.writeInteger(p)
        case .duplicate(let p): w.writeRaw(#","status":"duplicate","position":"#); w.writeInteger(p)
        case .rejected(let rej): w.writeRaw(#","status":"rejected","problem":"#); w.write(Problem.rejected(rej).json)
        }
        w.writeRaw("}")
    }
}
