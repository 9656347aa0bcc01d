import JSON
import YidangModel

/// One subject-index entry: consecutive events of one subject in a group commit share it.
///
/// The key is the subject and the run's first position (``Keys/subjectKey(_:_:)``); the
/// value lists the run's later positions as varint deltas, and is empty for a run of one
/// (the form every entry had before runs, so older data directories read the same).
/// A bulk load of a department's records, which come grouped by person or enterprise,
/// writes one entry per record instead of one per event.
struct SubjectRun {
    let subject: Subject
    let first: UInt64
    private(set) var last: UInt64
    /// How far each later position is from the one before it.
    private var deltas: [UInt64] = []

    init(subject: Subject, position: UInt64) {
        self.subject = subject
        first = position
        last = position
    }

    /// Adds the event at `position` to `run` when it continues it; otherwise starts a new run
    /// there and returns the one that ended (nil when there was none): the runs of a sequence
    /// of events in log order, one entry per stretch of one subject's consecutive events.
    static func add(_ subject: Subject, _ position: UInt64, to run: inout SubjectRun?) -> SubjectRun? {
        if run?.extend(subject, position) == true { return nil }
        defer { run = SubjectRun(subject: subject, position: position) }
        return run
    }

    /// Adds `position` when it is the next event of the same subject; false otherwise.
    mutating func extend(_ subject: Subject, _ position: UInt64) -> Bool {
        guard subject == self.subject, position > last else { return false }
        deltas.append(position - last)
        last = position
        return true
    }

    var key: [UInt8] { Keys.subjectKey(subject, first) }
    /// The later positions, as varint deltas (empty for a run of one).
    var value: [UInt8] {
        var w = BinaryWriter(capacity: deltas.count * 2)
        for d in deltas { w.varint(d) }
        return w.bytes
    }

    /// The positions an entry lists, in order.
    /// - Throws: ``BinaryDecodingError`` for a malformed value.
    static func positions(key: [UInt8], value: [UInt8]) throws(BinaryDecodingError) -> [UInt64] {
        var position = Keys.readBE(key.suffix(8))
        var out = [position]
        try BinaryReader.read(value) { r throws(BinaryDecodingError) in
            while !r.isAtEnd {
                let delta = try r.varint()
                guard delta > 0 else { throw BinaryDecodingError(offset: r.index) }
                position += delta
                out.append(position)
            }
        }
        return out
    }
}
