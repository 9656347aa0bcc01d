#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a document is not acceptable JSON, with the byte offset where parsing stopped.
public struct JSONParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public let offset: Int
    public let reason: String
    public var description: String { "\(reason) at byte \(offset)" }
    public init(offset: Int, reason: String) { self.offset = offset; self.reason = reason }
}

/// A strict RFC 8259 parser over UTF-8 bytes.
///
/// Rejects invalid UTF-8, control characters in strings, unpaired surrogates, duplicate
/// object keys, trailing content and nesting deeper than ``maximumDepth``. It never traps
/// on input.
public struct JSONParser {
    public static let maximumDepth = 64

    /// Parses one complete document. An object key found in `keys` is that table's string.
    /// Offsets in a ``JSONParseError`` count from the first of `bytes`.
    public static func parse(_ bytes: some Collection<UInt8>, keys: JSONKeyTable? = nil) throws(JSONParseError) -> JSONValue {
        // Read in place when the bytes are contiguous (an array, a line of an NDJSON body):
        // a copy of every line into an array of its own was an allocation and a copy an event.
        let result = bytes.withContiguousStorageIfAvailable { parse(buffer: $0, keys: keys) }
            ?? Array(bytes).withUnsafeBufferPointer { parse(buffer: $0, keys: keys) }
        return try result.get()
    }

    static func parse(buffer: UnsafeBufferPointer<UInt8>, keys: JSONKeyTable?) -> Result<JSONValue, JSONParseError> {
        Result { () throws(JSONParseError) -> JSONValue in
            var p = Cursor(buffer: buffer, keys: keys)
            p.skipWhitespace()
            let value = try p.value(depth: 0)
            p.skipWhitespace()
            guard p.index == buffer.count else { throw p.error("unexpected content after the JSON value") }
            return value
        }
    }

    public static func parse(_ text: String) throws(JSONParseError) -> JSONValue {
        try parse(Array(text.utf8))
    }

    struct Cursor {
        let buffer: UnsafeBufferPointer<UInt8>
        var keys: JSONKeyTable? = nil
        var index = 0
        /// The place in ``keys`` of the last key read, nil when it was not found there.
        var tableIndex: Int? = nil

        func error(_ reason: String) -> JSONParseError { JSONParseError(offset: index, reason: reason) }

        mutating func skipWhitespace() {
            while index < buffer.count {
                let c = buffer[index]
                if c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { index += 1 } else { return }
            }
        }

        mutating func value(depth: Int) throws(JSONParseError) -> JSONValue {
            guard index < buffer.count else { throw error("unexpected end of input") }
            switch buffer[index] {
            case UInt8(ascii: "{"): return try object(depth: depth + 1)
            case UInt8(ascii: "["): return try array(depth: depth + 1)
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): try literal("true"); return .bool(true)
            case UInt8(ascii: "f"): try literal("false"); return .bool(false)
            case UInt8(ascii: "n"): try literal("null"); return .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
            default: throw error("unexpected character")
            }
        }

        mutating func literal(_ word: StaticString) throws(JSONParseError) {
            let n = word.utf8CodeUnitCount
            guard index + n <= buffer.count else { throw error("unexpected end of input") }
            let w = word.utf8Start
            for i in 0..<n where buffer[index + i] != w[i] { throw error("invalid literal") }
            index += n
        }

        mutating func object(depth: Int) throws(JSONParseError) -> JSONValue {
            guard depth <= JSONParser.maximumDepth else { throw error("nesting deeper than \(JSONParser.maximumDepth)") }
            index += 1
            var object = JSONObject()
            skipWhitespace()
            if index < buffer.count && buffer[index] == UInt8(ascii: "}") { index += 1; return .object(object) }
            // A CloudEvent's envelope has eight to ten members: room for them at once, instead
            // of four reallocations of each of the object's two arrays.
            object.reserveCapacity(8)
            // Duplicates among the table's keys are told by the keys' places in the table;
            // comparing each key with every one before it compared strings some twenty
            // times an event. A key from elsewhere (unknown, or written with escapes, which
            // may spell a table key) is still compared with all the others.
            var seen: UInt64 = 0
            var untabled = false
            while true {
                skipWhitespace()
                guard index < buffer.count, buffer[index] == UInt8(ascii: "\"") else { throw error("expected a string key") }
                let keyStart = index
                let key = try string(key: true)
                let duplicate: Bool
                if let t = tableIndex, t < 64 {
                    duplicate = seen & (1 << UInt64(t)) != 0 || (untabled && object.keys.contains(key))
                    seen |= 1 << UInt64(t)
                } else {
                    duplicate = object.keys.contains(key)
                    if tableIndex == nil { untabled = true }
                }
                if duplicate { throw JSONParseError(offset: keyStart, reason: "duplicate key \"\(key)\"") }
                skipWhitespace()
                guard index < buffer.count, buffer[index] == UInt8(ascii: ":") else { throw error("expected ':'") }
                index += 1
                skipWhitespace()
                object.appendUnchecked(key, try value(depth: depth))
                skipWhitespace()
                guard index < buffer.count else { throw error("unexpected end of input") }
                if buffer[index] == UInt8(ascii: ",") { index += 1; continue }
                if buffer[index] == UInt8(ascii: "}") { index += 1; return .object(object) }
                throw error("expected ',' or '}'")
            }
        }

        mutating func array(depth: Int) throws(JSONParseError) -> JSONValue {
            guard depth <= JSONParser.maximumDepth else { throw error("nesting deeper than \(JSONParser.maximumDepth)") }
            index += 1
            var items: [JSONValue] = []
            skipWhitespace()
            if index < buffer.count && buffer[index] == UInt8(ascii: "]") { index += 1; return .array(items) }
            while true {
                skipWhitespace()
                items.append(try value(depth: depth))
                skipWhitespace()
                guard index < buffer.count else { throw error("unexpected end of input") }
                if buffer[index] == UInt8(ascii: ",") { index += 1; continue }
                if buffer[index] == UInt8(ascii: "]") { index += 1; return .array(items) }
                throw error("expected ',' or ']'")
            }
        }

        mutating func number() throws(JSONParseError) -> String {
            let start = index
            if buffer[index] == UInt8(ascii: "-") { index += 1 }
            guard index < buffer.count, isDigit(buffer[index]) else { throw error("invalid number") }
            if buffer[index] == UInt8(ascii: "0") {
                index += 1
                if index < buffer.count && isDigit(buffer[index]) { throw error("leading zero in number") }
            } else {
                while index < buffer.count && isDigit(buffer[index]) { index += 1 }
            }
            if index < buffer.count && buffer[index] == UInt8(ascii: ".") {
                index += 1
                guard index < buffer.count, isDigit(buffer[index]) else { throw error("invalid fraction") }
                while index < buffer.count && isDigit(buffer[index]) { index += 1 }
            }
            if index < buffer.count && (buffer[index] == UInt8(ascii: "e") || buffer[index] == UInt8(ascii: "E")) {
                index += 1
                if index < buffer.count && (buffer[index] == UInt8(ascii: "+") || buffer[index] == UInt8(ascii: "-")) { index += 1 }
                guard index < buffer.count, isDigit(buffer[index]) else { throw error("invalid exponent") }
                while index < buffer.count && isDigit(buffer[index]) { index += 1 }
            }
            return String(decoding: UnsafeBufferPointer(rebasing: buffer[start..<index]), as: UTF8.self)
        }

        @inline(__always) func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }

        /// A string; with `key`, an object's key, which comes from ``keys`` when it is there.
        mutating func string(key: Bool = false) throws(JSONParseError) -> String {
            index += 1
            tableIndex = nil
            let start = index
            var ascii = true
            // Eight bytes at a time while none of them ends the fast path (a quote, a
            // backslash, a control character): a string's bytes are most of a document's,
            // and one test a byte was most of a parse's own cost (callgrind of an import).
            // The word that holds a stop goes as far as its first stop byte, which the masks
            // tell exactly (a borrow flags only bytes above a true one), so the byte loop below
            // starts on it: stepping to it byte by byte was most of a short string's scan.
            if let base = buffer.baseAddress {
                while index + 8 <= buffer.count {
                    let word = UInt64(littleEndian: UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self))
                    let stops = Self.fastPathStops(word)
                    if stops != 0 {
                        let before = stops.trailingZeroBitCount & ~7   // bits below the first stop byte
                        if word & Self.highBits & ((1 << UInt64(before)) &- 1) != 0 { ascii = false }
                        index += before / 8
                        break
                    }
                    if word & Self.highBits != 0 { ascii = false }
                    index += 8
                }
            }
            // Fast path: no escapes.
            while index < buffer.count {
                let c = buffer[index]
                if c == UInt8(ascii: "\"") {
                    let slice = UnsafeBufferPointer(rebasing: buffer[start..<index])
                    index += 1
                    if key, let known = keys?.entry(in: buffer, from: start, to: index - 1) {
                        tableIndex = known.index
                        return known.string
                    }
                    if ascii { return String(decoding: slice, as: UTF8.self) }
                    guard let s = Self.validString(slice) else {
                        throw JSONParseError(offset: start, reason: "invalid UTF-8 in string")
                    }
                    return s
                }
                if c == UInt8(ascii: "\\") { break }
                if c < 0x20 { throw error("control character in string") }
                if c >= 0x80 { ascii = false }
                index += 1
            }
            guard index < buffer.count else { throw error("unterminated string") }
            // Slow path with escapes.
            var bytes = Array(UnsafeBufferPointer(rebasing: buffer[start..<index]))
            while index < buffer.count {
                let c = buffer[index]
                if c == UInt8(ascii: "\"") {
                    index += 1
                    guard let s = String(validating: bytes, as: UTF8.self) else {
                        throw JSONParseError(offset: start, reason: "invalid UTF-8 in string")
                    }
                    return s
                }
                if c < 0x20 { throw error("control character in string") }
                if c != UInt8(ascii: "\\") { bytes.append(c); index += 1; continue }
                index += 1
                guard index < buffer.count else { throw error("unterminated escape") }
                let e = buffer[index]
                index += 1
                switch e {
                case UInt8(ascii: "\""): bytes.append(0x22)
                case UInt8(ascii: "\\"): bytes.append(0x5C)
                case UInt8(ascii: "/"): bytes.append(0x2F)
                case UInt8(ascii: "b"): bytes.append(0x08)
                case UInt8(ascii: "f"): bytes.append(0x0C)
                case UInt8(ascii: "n"): bytes.append(0x0A)
                case UInt8(ascii: "r"): bytes.append(0x0D)
                case UInt8(ascii: "t"): bytes.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if scalar >= 0xD800 && scalar <= 0xDBFF {
                        guard index + 1 < buffer.count, buffer[index] == UInt8(ascii: "\\"), buffer[index + 1] == UInt8(ascii: "u") else {
                            throw error("unpaired surrogate")
                        }
                        index += 2
                        let low = try hex4()
                        guard low >= 0xDC00 && low <= 0xDFFF else { throw error("unpaired surrogate") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if scalar >= 0xDC00 && scalar <= 0xDFFF {
                        throw error("unpaired surrogate")
                    }
                    guard let u = Unicode.Scalar(scalar) else { throw error("invalid unicode escape") }
                    bytes.append(contentsOf: Array(String(Character(u)).utf8))
                default: throw error("invalid escape")
                }
            }
            throw error("unterminated string")
        }

        /// The string `bytes` spell, or nil when they are not valid UTF-8. Decoded with
        /// repair and compared with the input, which is equal exactly when nothing needed
        /// repair (a repair writes U+FFFD where the input held no valid character). The
        /// standard library's `String(validating:as:)` is generic over the code units and
        /// cost ~1,200 instructions a name or an address (callgrind of an import), this
        /// about a fifth of that.
        static func validString(_ bytes: UnsafeBufferPointer<UInt8>) -> String? {
            var s = String(decoding: bytes, as: UTF8.self)
            let same = s.withUTF8 { decoded in
                decoded.count == bytes.count
                    && (bytes.isEmpty || memcmp(decoded.baseAddress!, bytes.baseAddress!, bytes.count) == 0)
            }
            return same ? s : nil
        }

        static let lowBits: UInt64 = 0x0101_0101_0101_0101
        static let highBits: UInt64 = 0x8080_8080_8080_8080

        /// The high bit of each byte of `word` below `n` (n ≤ 128). Exact as to whether one
        /// is, and as to the lowest one; a borrow can also flag a byte above one that is.
        @inline(__always) static func bytes(below n: UInt8, _ word: UInt64) -> UInt64 {
            (word &- lowBits &* UInt64(n)) & ~word & highBits
        }

        /// The high bits of the bytes of `word` that may be a quote, a backslash or a control
        /// character, the bytes that end a string's fast path: zero when none is, and the
        /// lowest set bit in the first one when one is.
        @inline(__always) static func fastPathStops(_ word: UInt64) -> UInt64 {
            bytes(below: 1, word ^ (lowBits &* 0x22)) | bytes(below: 1, word ^ (lowBits &* 0x5C)) | bytes(below: 0x20, word)
        }

        mutating func hex4() throws(JSONParseError) -> UInt32 {
            guard index + 4 <= buffer.count else { throw error("truncated unicode escape") }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let c = buffer[index]
                let d: UInt32
                switch c {
                case 0x30...0x39: d = UInt32(c - 0x30)
                case 0x41...0x46: d = UInt32(c - 0x41 + 10)
                case 0x61...0x66: d = UInt32(c - 0x61 + 10)
                default: throw error("invalid hex digit in unicode escape")
                }
                v = v << 4 | d
                index += 1
            }
            return v
        }
    }
}
