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
        for line in bytes.split(separator: 0x0A, omittingEmptySubsequences: false) {
            number += 1
            if !isBlank(line) { out.append((number, line)) }
        }
        return out
    }
}
