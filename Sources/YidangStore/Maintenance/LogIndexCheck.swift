import RocksDB
import YidangModel

/// Proves the log's own indexes agree with the log: every event is listed exactly once in
/// the subject index, under its own subject, and exactly once in the idempotency index,
/// under its own (`source`, `id`); neither index lists a position the log does not hold.
///
/// Streams both indexes in key order against a fingerprint per position taken from one
/// pass over the log (8 bytes per event in memory), so it scales with the log.
enum LogIndexCheck {
    /// Appends what disagrees (at most `limit` findings) to `mismatches`.
    static func check(database: Database, configuration: Configuration, limit: Int = 50,
                      into mismatches: inout [String]) throws {
        let reader = StoreReader(database: database, configuration: configuration)
        let head = try reader.headPosition()
        // Fingerprints by position (index 0 unused); a position the log lacks keeps 0.
        var subjectPrint = [UInt32](repeating: 0, count: Int(head) + 1)
        var identityPrint = [UInt32](repeating: 0, count: Int(head) + 1)
        var held = [Bool](repeating: false, count: Int(head) + 1)
        try reader.forEachEvent(payload: false) { event in
            let p = Int(event.position)
            guard p > 0, p < held.count else { return }
            held[p] = true
            subjectPrint[p] = fingerprint(Keys.subjectPrefix(event.subject))
            identityPrint[p] = fingerprint(Keys.idempotencyKey(source: event.source, id: event.id))
        }
        func note(_ s: String) { if mismatches.count < limit { mismatches.append(s) } }

        var listed = [Bool](repeating: false, count: Int(head) + 1)
        try database.scan(from: [Keys.subjectIndex], to: [Keys.subjectIndex + 1]) { key, value in
            guard let subject = Keys.subject(ofIndexKey: key) else { note("subject index: malformed key"); return true }
            let print = fingerprint(Keys.subjectPrefix(subject))
            for p in try SubjectRun.positions(key: key, value: value) {
                guard p > 0, p < UInt64(held.count), held[Int(p)] else { note("subject index: \(subject) lists position \(p), which the log does not hold"); continue }
                if listed[Int(p)] { note("subject index: position \(p) is listed twice") }
                listed[Int(p)] = true
                if subjectPrint[Int(p)] != print { note("subject index: position \(p) is listed under \(subject), but that event is about another subject") }
            }
            return true
        }
        for p in 1..<held.count where held[p] && !listed[p] { note("subject index: position \(p) is missing") }

        listed = [Bool](repeating: false, count: Int(head) + 1)
        try database.scan(from: [Keys.idempotency], to: [Keys.idempotency + 1]) { key, value in
            let p = Keys.readBE(value)
            guard value.count == 8, p > 0, p < UInt64(held.count), held[Int(p)] else {
                note("idempotency index: an entry points at position \(p), which the log does not hold"); return true
            }
            if listed[Int(p)] { note("idempotency index: position \(p) has two entries") }
            listed[Int(p)] = true
            if identityPrint[Int(p)] != fingerprint(key) { note("idempotency index: the entry for position \(p) names another (source, id)") }
            return true
        }
        for p in 1..<held.count where held[p] && !listed[p] { note("idempotency index: position \(p) is missing") }
    }

    /// FNV-1a, 32 bits: equal keys agree; a disagreement slips through with odds of 2⁻³².
    static func fingerprint(_ bytes: [UInt8]) -> UInt32 {
        var h: UInt32 = 2_166_136_261
        for b in bytes { h = (h ^ UInt32(b)) &* 16_777_619 }
        return h
    }
}
