import JSON
import RocksDB
import YidangModel
import YidangProjection

/// The key space of the data directory's RocksDB. One-byte prefixes group the stores;
/// every prefix in `derived` (0x10..<0x20) is recreated from the log by `rebuild`.
enum Keys {
    // The log and its indexes (the truth).
    static let log: UInt8 = 0x01          // position → event
    static let subjectIndex: UInt8 = 0x02 // kind, id, 0, first position → later positions of its run (``SubjectRun``)
    static let idempotency: UInt8 = 0x03  // source, 0, id → position
    // Derived (projection).
    static let golden: UInt8 = 0x10       // kind, id → SubjectState
    static let conflict: UInt8 = 0x11     // id → Conflict
    static let openConflict: UInt8 = 0x12 // id → ()
    static let change: UInt8 = 0x13       // change position → ChangeRecord
    static let personLink: UInt8 = 0x14   // person id, 0, enterprise id, 0, role → ()
    static let enterpriseLink: UInt8 = 0x15 // enterprise id, 0, person id, 0, role → ()
    static let quality: UInt8 = 0x16      // department, 0, metric → count
    static let blockIndex: UInt8 = 0x17   // kind, blocking key, 0, subject id → ()
    static let matchTask: UInt8 = 0x18    // task id → MatchTask
    static let derivedMeta: UInt8 = 0x1F  // name → value
    static let derivedRange: (lower: [UInt8], upper: [UInt8]) = ([0x10], [0x20])
    /// The log's, the change feed's and the audit trail's keys only grow: each is kept in a
    /// column family of its own (docs/ARCHITECTURE.md, "Storage in detail").
    static let families = KeyFamilies(appendedTags: [log, change, audit])
    // Operational state, not derived from the log.
    static let rejections: UInt8 = 0x20  // department, 0, reason → count
    static let token: UInt8 = 0x21       // sha256 → token record
    static let audit: UInt8 = 0x22       // time, seq → audit record
    static let subscription: UInt8 = 0x23 // subscription id → its record (the sync layer's JSON)
    /// The last entry of the replicated log this node applied (cluster nodes only; written
    /// in the batch of the group that applied it).
    static let appliedSequence: [UInt8] = [0x2E] + Array("appliedSequence".utf8)
    /// How many golden records the projection holds, at most (``ProjectionWriter/subjectCount``):
    /// what sizes a replay's subject cache without counting the log's subjects first.
    static let subjectCountHint: [UInt8] = [0x2E] + Array("subjectCount".utf8)
    /// Present while a rebuild is under way (outside the derived range on purpose).
    static let rebuildMarker: [UInt8] = [0x2F] + Array("rebuilding".utf8)
    /// Present while a bulk load keeps golden records in memory and writes them late: the
    /// stored ones may lag the log (``EventStore/setBulkLoading(_:)``). Outside the derived
    /// range, so a rebuild's deletion of that range leaves it until the rebuild completes.
    static let lateGoldenRecordsMarker: [UInt8] = [0x2F] + Array("loading".utf8)
    /// The marker's value when the load also holds the log's subject and idempotency indexes
    /// (``HeldLogIndexes``). A load that stops before its end leaves both to be rebuilt from
    /// the log whatever the value: a load's groups are ingested family by family (the log and
    /// its indexes live in different column families, ``families``), so a stop between two
    /// ingests leaves the indexes of a group whose log entries are not stored.
    static let loadMarkerHeldIndexes: [UInt8] = [2]

    static func be(_ v: UInt64) -> [UInt8] {
        var k = KeyBuilder(capacity: 8)
        k.append(v)
        return k.bytes
    }
    static func readBE(_ b: some Collection<UInt8>) -> UInt64 {
        var v: UInt64 = 0
        for x in b.prefix(8) { v = v << 8 | UInt64(x) }
        return v
    }

    // The keys written for every event are built in one allocation each.
    static func logKey(_ position: UInt64) -> [UInt8] { numbered(log, position) }
    static func subjectPrefix(_ s: Subject) -> [UInt8] {
        var k = KeyBuilder(capacity: s.idByteCount + 3)
        k.bytes.append(subjectIndex); k.append(s); k.bytes.append(0)
        return k.bytes
    }
    static func subjectKey(_ s: Subject, _ position: UInt64) -> [UInt8] {
        var k = KeyBuilder(capacity: s.idByteCount + 11)
        k.bytes.append(subjectIndex); k.append(s); k.bytes.append(0); k.append(position)
        return k.bytes
    }
    /// The subject part of a subject-index key (everything before its position), or nil for
    /// another key: equal for every run of one subject.
    static func subjectPart<Bytes: RandomAccessCollection<UInt8>>(ofIndexKey key: Bytes) -> Bytes.SubSequence? where Bytes.Index == Int {
        guard key.count > 11, key[key.startIndex] == subjectIndex, key[key.endIndex - 9] == 0 else { return nil }
        return key.dropLast(8)
    }
    /// The subject of a subject-index key, or nil for another key.
    static func subject(ofIndexKey key: [UInt8]) -> Subject? {
        guard subjectPart(ofIndexKey: key) != nil else { return nil }
        return key.withUnsafeBufferPointer { k in
            Subject(kind: EntityKind(storageByte: k[1]), idBytes: UnsafeBufferPointer(rebasing: k[2..<(k.count - 9)]))
        }
    }
    static func idempotencyKey(source: String, id: String) -> [UInt8] {
        var k = KeyBuilder(capacity: source.utf8.count + id.utf8.count + 2)
        k.bytes.append(idempotency); k.bytes.appendUTF8(source); k.bytes.append(0); k.bytes.appendUTF8(id)
        return k.bytes
    }
    static func goldenKey(_ s: Subject) -> [UInt8] {
        var k = KeyBuilder(capacity: s.idByteCount + 2)
        k.bytes.append(golden); k.append(s)
        return k.bytes
    }
    /// The subject of a golden-record key, or nil for another key.
    static func subject(ofGoldenKey key: UnsafeBufferPointer<UInt8>) -> Subject? {
        guard key.count > 2, key[0] == golden else { return nil }
        return Subject(kind: EntityKind(storageByte: key[1]), idBytes: UnsafeBufferPointer(rebasing: key[2...]))
    }
    static func conflictKey(_ id: UInt64) -> [UInt8] { numbered(conflict, id) }
    static func matchTaskKey(_ id: UInt64) -> [UInt8] { numbered(matchTask, id) }
    /// The prefix of a blocking key's entries: every subject that holds a value giving `key`.
    static func blockPrefix(_ kind: EntityKind, _ key: String) -> [UInt8] {
        blockPrefix(kind, key, reserving: 0).bytes
    }
    /// A blocking-index entry: ``blockPrefix(_:_:)`` of the subject's kind and `key`, then
    /// the subject's id, built in one array.
    static func blockEntry(_ subject: Subject, _ key: String) -> [UInt8] {
        var k = blockPrefix(subject.kind, key, reserving: subject.idByteCount)
        subject.withIDBytes { k.bytes.append(contentsOf: $0) }
        return k.bytes
    }
    private static func blockPrefix(_ kind: EntityKind, _ key: String, reserving extra: Int) -> KeyBuilder {
        var k = KeyBuilder(capacity: key.utf8.count + 3 + extra)
        k.bytes.append(blockIndex); k.bytes.append(kind.storageByte); k.bytes.appendUTF8(key); k.bytes.append(0)
        return k
    }
    /// The prefix of every golden-record key of `kind` whose id starts with `idPrefix`.
    static func goldenPrefix(_ kind: EntityKind, idPrefix: String) -> [UInt8] {
        [golden, kind.storageByte] + Array(idPrefix.utf8)
    }
    static func openConflictKey(_ id: UInt64) -> [UInt8] { numbered(openConflict, id) }
    static func changeKey(_ position: UInt64) -> [UInt8] { numbered(change, position) }
    /// Rewrites a numbered key (a change, log or conflict key) in place for `n`.
    static func renumber(_ key: inout [UInt8], _ n: UInt64) { storeBE(n, into: &key, at: 1) }

    /// Writes `n` big-endian (so keys sort by number) into the 8 bytes of `bytes` from `offset`.
    private static func storeBE(_ n: UInt64, into bytes: inout [UInt8], at offset: Int) {
        for i in 0..<8 { bytes[offset + i] = UInt8(truncatingIfNeeded: n >> (56 - 8 * UInt64(i))) }
    }

    private static func numbered(_ prefix: UInt8, _ n: UInt64) -> [UInt8] {
        var k = KeyBuilder(capacity: 9)
        k.bytes.append(prefix); k.append(n)
        return k.bytes
    }

    private struct KeyBuilder {
        var bytes: [UInt8] = []
        init(capacity: Int) { bytes.reserveCapacity(capacity) }
        /// Kind byte and identifier.
        mutating func append(_ s: Subject) {
            bytes.append(s.kind.storageByte)
            s.withIDBytes { bytes.append(contentsOf: $0) }
        }
        /// Big-endian, so keys sort by number. Copied from the integer's own bytes: eight
        /// zeros appended through `repeatElement` and then overwritten took a generic path of
        /// ~150 instructions a key (callgrind of an import: 77 M for its log and index keys).
        mutating func append(_ n: UInt64) {
            withUnsafeBytes(of: n.bigEndian) { bytes.append(contentsOf: $0) }
        }
    }
    /// The two keys of a link (person side, enterprise side), each built in one array from the
    /// subjects' bytes: a link's keys are written for a fifth of a replay's events, and
    /// concatenating prefix, identifiers and role cost seven arrays per key.
    static func linkKeys(_ link: Link) -> (person: [UInt8], enterprise: [UInt8]) {
        func key(_ prefix: UInt8, _ first: Subject, _ second: Subject) -> [UInt8] {
            var k = KeyBuilder(capacity: first.idByteCount + second.idByteCount + link.role.utf8.count + 3)
            k.bytes.append(prefix)
            first.withIDBytes { k.bytes.append(contentsOf: $0) }
            k.bytes.append(0)
            second.withIDBytes { k.bytes.append(contentsOf: $0) }
            k.bytes.append(0)
            k.bytes.append(contentsOf: link.role.utf8)
            return k.bytes
        }
        return (key(personLink, link.person, link.enterprise), key(enterpriseLink, link.enterprise, link.person))
    }
    static func personLinkPrefix(_ personId: String) -> [UInt8] { [personLink] + Array(personId.utf8) + [0] }
    static func enterpriseLinkPrefix(_ enterpriseId: String) -> [UInt8] { [enterpriseLink] + Array(enterpriseId.utf8) + [0] }
    static func qualityKey(_ department: String, _ metric: String) -> [UInt8] { [quality] + Array(department.utf8) + [0] + Array(metric.utf8) }
    static func rejectionKey(_ department: String, _ reason: String) -> [UInt8] { [rejections] + Array(department.utf8) + [0] + Array(reason.utf8) }
    static func derivedMetaKey(_ name: String) -> [UInt8] { [derivedMeta] + Array(name.utf8) }
    static func subscriptionKey(_ id: String) -> [UInt8] { [subscription] + Array(id.utf8) }
    static func tokenKey(_ digest: [UInt8]) -> [UInt8] { [token] + digest }
    /// An audit entry's key: the time (µs) and a sequence number, so entries sort by time.
    static func auditKey(time: UInt64, sequence: UInt32) -> [UInt8] {
        var k = KeyBuilder(capacity: 13)
        k.bytes.append(audit)
        k.append(time)
        for shift in stride(from: 24, through: 0, by: -8) { k.bytes.append(UInt8(truncatingIfNeeded: sequence >> UInt32(shift))) }
        return k.bytes
    }

    /// The smallest key greater than every key starting with `prefix`.
    static func upperBound(_ prefix: [UInt8]) -> [UInt8] {
        Database.successor(of: prefix) ?? [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]
    }
}
