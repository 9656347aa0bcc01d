#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Object keys a parser is told to expect (``JSONParser/parse(_:keys:)``), each given back
/// as one shared string instead of a new string every time it is read.
///
/// A CloudEvent's members and its data's attribute names repeat in every event: making each
/// of them a string from its bytes (checking them for ASCII, building the string) was about
/// two hundred instructions a key, a dozen keys an event. Found here, a key is looked up by
/// its length and first and last bytes, then compared byte for byte (its first sixteen bytes
/// as two words; about a hundred instructions a key in all): the string returned is
/// equal to what the parser would have made, and is the table's own instance, so a caller
/// that keeps its strings (a configuration's attribute names) compares them by identity.
///
/// Only keys written without escapes are looked up; any other key is parsed as usual.
public final class JSONKeyTable: Sendable {
    /// A slot of the open-addressing table: a key's length (0: empty), its index in
    /// `strings`, and its first sixteen bytes as two little-endian words, zero past its end.
    private struct Slot {
        var length = 0
        var index = 0
        var w0: UInt64 = 0
        var w1: UInt64 = 0
    }
    private let slots: [Slot]
    private let strings: [String]
    /// The bytes of keys longer than sixteen, compared once the words agree.
    private let long: [[UInt8]]
    private let mask: Int

    /// A table of `keys` (duplicates and empty strings are ignored).
    public init(_ keys: some Sequence<String>) {
        var strings: [String] = []
        for key in keys where !key.isEmpty && !strings.contains(key) { strings.append(key) }
        var size = 16
        while size < strings.count * 4 { size *= 2 }
        var slots = [Slot](repeating: Slot(), count: size)
        for (i, key) in strings.enumerated() {
            let bytes = Array(key.utf8)
            var slot = Slot(length: bytes.count, index: i)
            (slot.w0, slot.w1) = bytes.withUnsafeBufferPointer { Self.words($0.baseAddress!, bytes.count) }
            var s = Self.hash(count: bytes.count, first: bytes[0], last: bytes[bytes.count - 1]) & (size - 1)
            while slots[s].length > 0 { s = (s + 1) & (size - 1) }
            slots[s] = slot
        }
        self.slots = slots
        self.strings = strings
        self.long = strings.map { $0.utf8.count > 16 ? Array($0.utf8) : [] }
        self.mask = size - 1
    }

    /// How many keys the table holds.
    public var count: Int { strings.count }

    /// The place of `key` among the table's keys (from 0 to ``count`` - 1), or nil when the
    /// table does not hold its bytes. Keys are compared byte for byte, not as Unicode text:
    /// a caller that must also find a canonically equivalent spelling looks it up again.
    public func index(of key: String) -> Int? {
        var key = key
        return key.withUTF8 { entry(in: $0, from: 0, to: $0.count)?.index }
    }

    /// The first sixteen of `count` bytes as two little-endian words, zero past the end,
    /// read byte by byte (where a word's load could pass the buffer's end).
    private static func words(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> (UInt64, UInt64) {
        var w0: UInt64 = 0, w1: UInt64 = 0
        for j in 0..<min(count, 16) {
            if j < 8 { w0 |= UInt64(bytes[j]) << (8 * UInt64(j)) } else { w1 |= UInt64(bytes[j]) << (8 * UInt64(j - 8)) }
        }
        return (w0, w1)
    }

    @inline(__always) private static func hash(count: Int, first: UInt8, last: UInt8) -> Int {
        count &* 131 &+ Int(first) &* 31 &+ Int(last)
    }

    /// The table's string whose UTF-8 is `buffer[start..<end]`, or nil. The whole of
    /// `buffer` may be read (a key's first sixteen bytes are loaded as two words, masked).
    @inline(__always)
    func string(in buffer: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int) -> String? {
        entry(in: buffer, from: start, to: end)?.string
    }

    /// The table's string whose UTF-8 is `buffer[start..<end]` with its place among the
    /// table's keys (distinct keys, distinct places; from 0 to ``count`` - 1), or nil.
    @inline(__always)
    func entry(in buffer: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int) -> (index: Int, string: String)? {
        let n = end - start
        guard n > 0, let base = buffer.baseAddress else { return nil }
        // The key's first sixteen bytes, zero past its end.
        var w0: UInt64 = 0, w1: UInt64 = 0
        if start + 16 <= buffer.count {
            let raw = UnsafeRawPointer(base + start)
            w0 = UInt64(littleEndian: raw.loadUnaligned(as: UInt64.self))
            w1 = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
            if n < 8 { w0 &= (1 << (8 * UInt64(n))) &- 1; w1 = 0 } else if n < 16 { w1 &= (1 << (8 * UInt64(n - 8))) &- 1 }
        } else {
            (w0, w1) = Self.words(base + start, n)
        }
        let found: Int? = slots.withUnsafeBufferPointer { table in
            var s = Self.hash(count: n, first: base[start], last: base[end - 1]) & mask
            while true {
                let slot = table[s]
                if slot.length == 0 { return nil }
                if slot.length == n, slot.w0 == w0, slot.w1 == w1,
                   n <= 16 || long[slot.index].withUnsafeBufferPointer({ memcmp($0.baseAddress! + 16, base + start + 16, n - 16) == 0 }) {
                    return slot.index
                }
                s = (s + 1) & mask
            }
        }
        return found.map { ($0, strings[$0]) }
    }
}
