/// A compact, fast binary record format used for stored records: varint-prefixed
/// strings and integers, and tagged JSON values. Decoding never traps on bad input.
///
/// The writer owns a raw buffer that grows by doubling: each field is one capacity check
/// and a store or a copy, with no uniqueness check of an array per byte, and strings are
/// borrowed (not retained) while their bytes are copied. Encoding golden records this way
/// took half the time appending to a `[UInt8]` did. It cannot be copied; ``bytes`` copies
/// the result out, ``withBytes(_:)`` lends it.
public struct BinaryWriter: ~Copyable {
    @usableFromInline var base: UnsafeMutablePointer<UInt8>
    @usableFromInline var capacity: Int
    @usableFromInline var written: Int
    /// Bytes written so far.
    public var count: Int { written }

    public init(capacity: Int = 128) {
        self.capacity = max(capacity, 16)
        base = .allocate(capacity: self.capacity)
        written = 0
    }

    deinit { base.deallocate() }

    /// Makes room for `n` more bytes.
    @inlinable @inline(__always)
    public mutating func reserve(_ n: Int) {
        if written + n > capacity { grow(toHold: written + n) }
    }

    @usableFromInline mutating func grow(toHold needed: Int) {
        var c = capacity * 2
        while c < needed { c *= 2 }
        let larger = UnsafeMutablePointer<UInt8>.allocate(capacity: c)
        larger.update(from: base, count: written)
        base.deallocate()
        base = larger
        capacity = c
    }

    @inlinable public mutating func byte(_ b: UInt8) {
        reserve(1)
        base[written] = b
        written += 1
    }

    /// Appends raw bytes (no length prefix).
    @inlinable public mutating func append(_ raw: UnsafeBufferPointer<UInt8>) {
        guard let from = raw.baseAddress, raw.count > 0 else { return }
        reserve(raw.count)
        (base + written).update(from: from, count: raw.count)
        written += raw.count
    }

    /// An unsigned LEB128 integer. Most are one byte (lengths, counts, small numbers): those
    /// are written in place, without the loop or a call, since encoding a replay's change
    /// records and golden records writes millions.
    @inlinable @inline(__always) public mutating func varint(_ value: UInt64) {
        if value < 0x80 && written < capacity {
            base[written] = UInt8(truncatingIfNeeded: value)
            written += 1
            return
        }
        varint(long: value)
    }

    @usableFromInline mutating func varint(long value: UInt64) {
        reserve(10)
        // In locals: stored through `base`, each byte made the loop reload and store `written`
        // (times are eight bytes, and every record has some).
        let out = base
        var at = written
        var v = value
        while v >= 0x80 {
            out[at] = UInt8(truncatingIfNeeded: v) | 0x80
            at += 1
            v >>= 7
        }
        out[at] = UInt8(truncatingIfNeeded: v)
        written = at + 1
    }

    @inlinable public mutating func int(_ value: Int64) { varint(UInt64(bitPattern: (value << 1) ^ (value >> 63))) }

    /// A length-prefixed UTF-8 string.
    @inlinable public mutating func string(_ s: borrowing String) {
        let n = s.utf8.count
        varint(UInt64(n))
        reserve(n)
        let copied: Void? = s.utf8.withContiguousStorageIfAvailable { utf8 in
            if let from = utf8.baseAddress { (base + written).update(from: from, count: n) }
        }
        if copied == nil {
            var bridged = copy s
            bridged.withUTF8 { utf8 in if let from = utf8.baseAddress { (base + written).update(from: from, count: n) } }
        }
        written += n
    }

    @inlinable public mutating func optionalString(_ s: borrowing String?) {
        switch s {
        case .some(let v): byte(1); string(v)
        case .none: byte(0)
        }
    }

    @inlinable public mutating func bool(_ b: Bool) { byte(b ? 1 : 0) }

    public mutating func json(_ v: JSONValue) {
        switch v {
        case .null: byte(0)
        case .bool(let b): byte(b ? 2 : 1)
        case .number(let n): byte(3); string(n)
        case .string(let s): byte(4); string(s)
        case .array(let a): byte(5); varint(UInt64(a.count)); for x in a { json(x) }
        case .object(let o): byte(6); varint(UInt64(o.count)); for (k, x) in o { string(k); json(x) }
        }
    }

    /// Forgets what was written, keeping the buffer (to encode the next record into).
    public mutating func removeAll() { written = 0 }

    /// A copy of the bytes written.
    public var bytes: [UInt8] { withBytes { Array($0) } }

    /// Lends the bytes written (valid only inside `body`).
    @inlinable public func withBytes<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: base, count: written))
    }
}

extension Array where Element == UInt8 {
    /// Appends `s`'s UTF-8 in one copy (appending its `utf8` view goes byte by byte).
    public mutating func appendUTF8(_ s: String) {
        // A native string lends its contiguous bytes without a copy of the string.
        if let done: Void = s.utf8.withContiguousStorageIfAvailable({ append(contentsOf: $0) }) { return done }
        var s = s
        s.withUTF8 { append(contentsOf: $0) }
    }
}

/// A truncated or malformed stored record.
public struct BinaryDecodingError: Error, CustomStringConvertible, Sendable {
    public let offset: Int
    public var description: String { "malformed stored record at byte \(offset)" }
    public init(offset: Int) { self.offset = offset }
}

/// Reads what ``BinaryWriter`` wrote, from bytes it borrows.
///
/// A reader holds no reference to its bytes: it is made by ``read(_:from:_:)`` (or
/// ``read(buffer:from:_:)``) for the duration of a closure, and must not outlive it. A replay
/// decodes every event of the log, and a reader that kept an array retained and released it
/// for every string it decoded and bounds-checked every byte twice.
public struct BinaryReader {
    @usableFromInline let bytes: UnsafeBufferPointer<UInt8>
    /// Where the next read starts (``index``), visible to the inlined one-byte reads.
    @usableFromInline var offset: Int
    /// Where the next read starts.
    public var index: Int { offset }

    private init(borrowing bytes: UnsafeBufferPointer<UInt8>, from index: Int) { self.bytes = bytes; self.offset = index }

    /// Calls `body` with a reader of `bytes`, positioned at `index`.
    /// - Throws: what `body` throws.
    public static func read<R>(_ bytes: [UInt8], from index: Int = 0,
                               _ body: (inout BinaryReader) throws(BinaryDecodingError) -> R) throws(BinaryDecodingError) -> R {
        try bytes.withUnsafeBufferPointer { buffer throws(BinaryDecodingError) in try read(buffer: buffer, from: index, body) }
    }

    /// Calls `body` with a reader of `buffer`, valid for the call only, positioned at `index`.
    /// - Throws: what `body` throws.
    public static func read<R>(buffer: UnsafeBufferPointer<UInt8>, from index: Int = 0,
                               _ body: (inout BinaryReader) throws(BinaryDecodingError) -> R) throws(BinaryDecodingError) -> R {
        var r = BinaryReader(borrowing: buffer, from: index)
        return try body(&r)
    }

    public var isAtEnd: Bool { index >= bytes.count }

    @inlinable @inline(__always) public mutating func byte() throws(BinaryDecodingError) -> UInt8 {
        guard offset < bytes.count else { throw BinaryDecodingError(offset: offset) }
        defer { offset += 1 }
        return bytes[offset]
    }
    /// An unsigned LEB128 integer. Most are one byte (lengths, counts, small numbers), and a
    /// replay reads millions: those are read in place, without a call (called, the one-byte
    /// case alone cost 21 instructions a varint: callgrind, the registry snapshot's rebuild).
    @inlinable @inline(__always) public mutating func varint() throws(BinaryDecodingError) -> UInt64 {
        if offset < bytes.count, bytes[offset] < 0x80 {
            defer { offset += 1 }
            return UInt64(bytes[offset])
        }
        return try varint(long: ())
    }
    /// ``varint()`` of more than one byte, or at the end of the bytes.
    @usableFromInline mutating func varint(long: Void) throws(BinaryDecodingError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let b = try byte()
            result |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return result }
            shift += 7
            if shift > 63 { throw BinaryDecodingError(offset: index) }
        }
    }
    public mutating func int() throws(BinaryDecodingError) -> Int64 {
        let z = try varint()
        return Int64(bitPattern: (z >> 1) ^ (0 &- (z & 1)))
    }
    @inlinable @inline(__always) public mutating func count() throws(BinaryDecodingError) -> Int {
        let n = try varint()
        guard n <= UInt64(bytes.count - offset) else { throw BinaryDecodingError(offset: offset) }
        return Int(n)
    }
    public mutating func string() throws(BinaryDecodingError) -> String {
        let n = try count()
        defer { offset += n }
        return String(decoding: UnsafeBufferPointer(rebasing: bytes[offset..<offset + n]), as: UTF8.self)
    }
    /// A string found in `table` is returned as the table's own instance: no allocation and
    /// no UTF-8 check, and equal strings then share storage. Others are decoded as usual.
    public mutating func string(interning table: InternTable) throws(BinaryDecodingError) -> String {
        let n = try count()
        let start = offset
        offset += n
        return table.lookup(in: bytes, from: start, to: start + n)
            ?? String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<start + n]), as: UTF8.self)
    }
    /// Lends the bytes of a length-prefixed string without making a string of them.
    public mutating func withStringBytes<R>(_ body: (UnsafeBufferPointer<UInt8>) -> R) throws(BinaryDecodingError) -> R {
        let n = try count()
        defer { offset += n }
        return body(UnsafeBufferPointer(rebasing: bytes[offset..<offset + n]))
    }
    public mutating func optionalString() throws(BinaryDecodingError) -> String? {
        try byte() == 0 ? nil : try string()
    }
    public mutating func bool() throws(BinaryDecodingError) -> Bool { try byte() != 0 }
    /// Steps over a string without decoding it.
    public mutating func skipString() throws(BinaryDecodingError) { offset += try count() }
    /// Steps over a JSON value without building it (checked as ``json(depth:)`` checks it).
    public mutating func skipJSON(depth: Int = 0) throws(BinaryDecodingError) {
        guard depth < 100 else { throw BinaryDecodingError(offset: index) }
        switch try byte() {
        case 0, 1, 2: return
        case 3, 4: try skipString()
        case 5: for _ in 0..<(try count()) { try skipJSON(depth: depth + 1) }
        case 6: for _ in 0..<(try count()) { try skipString(); try skipJSON(depth: depth + 1) }
        default: throw BinaryDecodingError(offset: index - 1)
        }
    }
    public mutating func json(depth: Int = 0) throws(BinaryDecodingError) -> JSONValue {
        guard depth < 100 else { throw BinaryDecodingError(offset: index) }
        switch try byte() {
        case 0: return .null
        case 1: return .bool(false)
        case 2: return .bool(true)
        case 3: return .number(try string())
        case 4: return .string(try string())
        case 5:
            let n = try count()
            var a: [JSONValue] = []
            a.reserveCapacity(n)
            for _ in 0..<n { a.append(try json(depth: depth + 1)) }
            return .array(a)
        case 6:
            let n = try count()
            var o = JSONObject()
            for _ in 0..<n { let k = try string(); o.appendUnchecked(k, try json(depth: depth + 1)) }
            return .object(o)
        default: throw BinaryDecodingError(offset: index - 1)
        }
    }
}

/// Strings a reader meets again and again (department codes, event types, attribute
/// names), kept so that reading one returns the same instance every time.
///
/// Looked up as a JSON object's keys are (``JSONKeyTable``): by length, first and last byte,
/// and the first sixteen bytes as two words, compared in place. It runs for every name of
/// every event a replay decodes: scanning the strings of one length byte by byte cost 184
/// instructions a lookup (callgrind, the registry snapshot's rebuild).
public struct InternTable: Sendable {
    public static let empty = InternTable([])
    private let table: JSONKeyTable

    public init(_ strings: some Sequence<String>) { table = JSONKeyTable(strings) }

    /// The kept string whose UTF-8 is `buffer[start..<end]`, if any. The whole of `buffer`
    /// may be read.
    func lookup(in buffer: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int) -> String? {
        table.string(in: buffer, from: start, to: end)
    }
}
