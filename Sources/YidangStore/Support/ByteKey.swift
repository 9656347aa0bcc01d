/// A byte string as a dictionary key, its bytes hashed once, when it is made: a key that is
/// looked up, inserted and removed again (the writer's idempotency keys; see
/// `EventStore.Identity`) is then hashed as one integer each time, not byte by byte (an
/// array of bytes hashes byte by byte).
struct ByteKey: Hashable {
    let bytes: [UInt8]
    /// The bytes hashed (with the process's seed, as every Swift hash).
    let digest: Int
    init(_ bytes: [UInt8]) {
        self.bytes = bytes
        digest = bytes.withUnsafeBytes { Self.digest(of: $0) }
    }

    private static func digest(of bytes: UnsafeRawBufferPointer) -> Int {
        var hasher = Hasher()
        hasher.combine(bytes: bytes)
        return hasher.finalize()
    }

    /// The `hashValue` of the key these bytes make, without making it (no array is allocated).
    static func hashValue(of bytes: UnsafeBufferPointer<UInt8>) -> Int {
        mixed(digest(of: UnsafeRawBufferPointer(bytes)), seed: 0)
    }
    static func == (a: ByteKey, b: ByteKey) -> Bool { a.digest == b.digest && a.bytes == b.bytes }
    func hash(into hasher: inout Hasher) { hasher.combine(digest) }
    /// The digest, already Hasher's keyed hash of the bytes, mixed with the table's seed by
    /// one full-width multiply instead of Hasher's rounds again (the load's filter of
    /// idempotency keys hashes one per event on the fold's thread).
    func _rawHashValue(seed: Int) -> Int { Self.mixed(digest, seed: seed) }

    private static func mixed(_ digest: Int, seed: Int) -> Int {
        let p = (UInt64(truncatingIfNeeded: digest) ^ UInt64(truncatingIfNeeded: seed)).multipliedFullWidth(by: 0x9E37_79B9_7F4A_7C15)
        return Int(truncatingIfNeeded: p.high ^ p.low)
    }
}
