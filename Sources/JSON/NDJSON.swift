#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Newline-delimited JSON framing, shared by the HTTP API, `import` and remote import.
public enum NDJSON {
    /// Whether a line holds only spaces, tabs or a carriage return (it is skipped, not an event).
    public static func isBlank(_ line: some Collection<UInt8>) -> Bool {
        line.allSatisfy { $0 == 0x20 || $0 == 0x0D || $0 == 0x09 }
    }

    /// The non-blank lines of `bytes` with their 1-based line numbers.
    public static func lines(_ bytes: [UInt8]) -> [(number: UInt64, bytes: ArraySlice<UInt8>)] {
        var out: [(number: UInt64, bytes: ArraySlice<UInt8>)] = []
        var number: UInt64 = 0
        var start = 0
        func line(to end: Int) {
            number += 1
            let line = bytes[start..<end]
            if !isBlank(line) { out.append((number, line)) }
            start = end + 1
        }
        bytes.withUnsafeBufferPointer { forEachBreak(in: $0, from: 0, to: $0.count, line(to:)) }
        line(to: bytes.count)
        return out
    }

    /// The bytes of the string value of the first member named `name` (given with its quotes,
    /// `"subject"`) in `line`, escapes left as written; nil when the line has none, or its value
    /// is not a string. A scan of the bytes, not a parse: for counting and benchmark aids that
    /// need one member of many lines, never for admitting an event.
    ///
    /// The name is looked for by its byte at `keyOffset` (`memchr`), best one that other members
    /// of the line rarely hold (`"subject"`'s `j`, four bytes in: no other member of a
    /// CloudEvent's envelope has one, and UTF-8 has no such byte inside another character), so
    /// that a line costs a call or two instead of a call and a comparison for every quote.
    public static func stringMember(_ name: UnsafeRawBufferPointer, keyOffset: Int,
                                    in line: UnsafeBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8>? {
        guard let base = line.baseAddress, let nameBase = name.baseAddress, keyOffset < name.count else { return nil }
        let key = Int32(name[keyOffset])
        var from = keyOffset
        while from < line.count {
            guard let hit = memchr(base + from, key, line.count - from) else { return nil }
            let q = base.distance(to: hit.assumingMemoryBound(to: UInt8.self)) - keyOffset
            from = q + keyOffset + 1
            guard q >= 0, q + name.count <= line.count, memcmp(base + q, nameBase, name.count) == 0 else { continue }
            var j = q + name.count
            from = j
            while j < line.count, line[j] == 0x20 || line[j] == 0x09 { j += 1 }
            guard j < line.count, line[j] == 0x3A else { continue }    // a value that reads as the name, not the member
            j += 1
            while j < line.count, line[j] == 0x20 || line[j] == 0x09 { j += 1 }
            guard j < line.count, line[j] == 0x22 else { return nil }
            let start = j + 1
            var k = start
            while k < line.count, line[k] != 0x22 { k += line[k] == 0x5C ? 2 : 1 }
            return UnsafeBufferPointer(rebasing: line[start..<min(k, line.count)])
        }
        return nil
    }

    /// Calls `body` with the index of each line break (`\n`) in `buffer[from..<to]`, in order.
    ///
    /// Found by `memchr`: a generic split tested every byte through a closure, about seven
    /// instructions a byte of a bulk request (callgrind of the server).
    public static func forEachBreak(in buffer: UnsafeBufferPointer<UInt8>, from: Int, to end: Int,
                                    _ body: (Int) throws -> Void) rethrows {
        guard let base = buffer.baseAddress else { return }
        var from = from
        while from < end, let hit = memchr(base + from, 0x0A, end - from) {
            let i = base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
            try body(i)
            from = i + 1
        }
    }
}
