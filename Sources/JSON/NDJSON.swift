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
