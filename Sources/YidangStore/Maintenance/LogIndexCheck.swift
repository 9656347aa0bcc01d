import RocksDB
import YidangModel

/// Proves the log's own indexes agree with the log: every event is listed exactly once in
/// the subject index, under its own subject, and exactly once in the idempotency index,
/// under its own (`source`, `id`); neither index lists a position the log does not hold.
///
/// Works through the log in windows of positions: for each, one pass over that part of the
/// log takes a fingerprint per position (about ten bytes each in memory), and one pass over
/// each index checks the positions it lists in the window. Memory stays bounded by the
/// window, not the log; a log longer than a window costs one more pass over each index
/// per window.
enum LogIndexCheck {
    /// Appends what disagrees (at most `limit` findings) to `mismatches`.
    static func check(database: Database, configuration: Configuration, limit: Int = 50, window: UInt64 = 16_000_000,
                      into mismatches: inout [String]) throws {
        let reader = StoreReader(database: database, configuration: configuration)
        let head = try reader.headPosition()
        var low: UInt64 = 1
        repeat {
            let high = min(head, low + max(1, window) - 1)
            // The last window also reports entries that point past the head (or at 0): they
            // belong to no window, and each index is scanned once per window anyway.
            try check(database: database, reader: reader, positions: low..<(high + 1), head: head,
                      reportsOutside: high == head, limit: limit, into: &mismatches)
            low = high + 1
        } while low <= head
    }

    private static func check(database: Database, reader: StoreReader, positions window: Range<UInt64>, head: UInt64,
                              reportsOutside: Bool, limit: Int, into mismatches: inout [String]) throws {
        func note(_ s: String) { if mismatches.count < limit { mismatches.append(s) } }
        let count = window.count
        func slot(_ p: UInt64) -> Int? { window.contains(p) ? Int(p - window.lowerBound) : nil }
        func outside(_ p: UInt64) -> Bool { reportsOutside && (p == 0 || p > head) }
        // Fingerprints by position; a position the log lacks is not `held`.
        var subjectPrint = [UInt32](repeating: 0, count: count)
        var identityPrint = [UInt32](repeating: 0, count: count)
        var held = [Bool](repeating: false, count: count)
        if !window.isEmpty {
            try reader.forEachEvent(after: window.lowerBound - 1, through: window.upperBound - 1, payload: false) { event in
                guard let i = slot(event.position) else { return }
                held[i] = true
                subjectPrint[i] = fingerprint(Keys.subjectPrefix(event.subject))
                identityPrint[i] = fingerprint(Keys.idempotencyKey(source: event.source, id: event.id))
            }
        }

        var listed = [Bool](repeating: false, count: count)
        try database.scan(from: [Keys.subjectIndex], to: [Keys.subjectIndex + 1]) { key, value in
            guard let subject = Keys.subject(ofIndexKey: key) else { note("subject index: malformed key"); return true }
            let print = fingerprint(Keys.subjectPrefix(subject))
            for p in try SubjectRun.positions(key: key, value: value) {
                guard let i = slot(p), held[i] else {
                    if slot(p) != nil || outside(p) { note("subject index: \(subject) lists position \(p), which the log does not hold") }
                    continue
                }
                if listed[i] { note("subject index: position \(p) is listed twice") }
                listed[i] = true
                if subjectPrint[i] != print { note("subject index: position \(p) is listed under \(subject), but that event is about another subject") }
            }
            return true
        }
        for i in 0..<count where held[i] && !listed[i] { note("subject index: position \(window.lowerBound + UInt64(i)) is missing") }

        listed = [Bool](repeating: false, count: count)
        try database.scan(from: [Keys.idempotency], to: [Keys.idempotency + 1]) { key, value in
            let p = Keys.readBE(value)
            guard value.count == 8, let i = slot(p), held[i] else {
                if (value.count == 8 && slot(p) != nil) || (reportsOutside && value.count != 8) || outside(p) {
                    note("idempotency index: an entry points at position \(p), which the log does not hold")
                }
                return true
            }
            if listed[i] { note("idempotency index: position \(p) has two entries") }
            listed[i] = true
            if identityPrint[i] != fingerprint(key) { note("idempotency index: the entry for position \(p) names another (source, id)") }
            return true
        }
        for i in 0..<count where held[i] && !listed[i] { note("idempotency index: position \(window.lowerBound + UInt64(i)) is missing") }
    }

    /// FNV-1a, 32 bits: equal keys agree; a disagreement slips through with odds of 2⁻³².
    static func fingerprint(_ bytes: [UInt8]) -> UInt32 {
        var h: UInt32 = 2_166_136_261
        for b in bytes { h = (h ^ UInt32(b)) &* 16_777_619 }
        return h
    }
}
