/// Serializes ``JSONValue``s compactly (or indented), escaping per RFC 8259.
/// Non-ASCII text is written as UTF-8, not as `\u` escapes.
public struct JSONWriter {
    public var bytes: [UInt8] = []
    public init() { bytes.reserveCapacity(256) }
    /// A writer with room for `capacity` bytes: a large document written into the default
    /// room grows by copying itself over and over.
    public init(capacity: Int) { bytes.reserveCapacity(capacity) }

    /// Appends JSON text the caller vouches for (punctuation, a member name with its colon).
    public mutating func writeRaw(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    /// Appends an integer as a JSON number.
    public mutating func writeInteger(_ value: some BinaryInteger) {
        // Digits written in place: `String(value)` is generic over the radix and allocated a
        // string for each of a bulk answer's two integers an event.
        guard let v = Int64(exactly: value) else { bytes.append(contentsOf: String(value).utf8); return }
        if v < 0 { bytes.append(UInt8(ascii: "-")) }
        // Least significant digit first, from the end of a stack buffer forward, then appended
        // in one copy: reversing the run in `bytes` through a range subscript copied it into
        // a slice of its own and back (an allocation an integer, callgrind of a bulk answer).
        var magnitude = v.magnitude
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var first = digits.count
            repeat {
                first -= 1
                digits[first] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: digits[first...]))
        }
    }

    public static func serialize(_ value: JSONValue, pretty: Bool = false) -> String {
        var w = JSONWriter()
        w.write(value, indent: pretty ? 0 : nil)
        return String(decoding: w.bytes, as: UTF8.self)
    }

    public static func bytes(_ value: JSONValue) -> [UInt8] {
        var w = JSONWriter()
        w.write(value, indent: nil)
        return w.bytes
    }

    public mutating func write(_ value: JSONValue, indent: Int? = nil) {
        switch value {
        case .null: bytes.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C])
        case .bool(let b): bytes.append(contentsOf: b ? Array("true".utf8) : Array("false".utf8))
        case .number(let n): bytes.append(contentsOf: n.utf8)
        case .string(let s): writeString(s)
        case .array(let items):
            bytes.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { bytes.append(UInt8(ascii: ",")) }
                newline(indent.map { $0 + 1 })
                write(item, indent: indent.map { $0 + 1 })
            }
            if !items.isEmpty { newline(indent) }
            bytes.append(UInt8(ascii: "]"))
        case .object(let object):
            bytes.append(UInt8(ascii: "{"))
            var first = true
            for (k, v) in object {
                if !first { bytes.append(UInt8(ascii: ",")) }
                first = false
                newline(indent.map { $0 + 1 })
                writeString(k)
                bytes.append(UInt8(ascii: ":"))
                if indent != nil { bytes.append(0x20) }
                write(v, indent: indent.map { $0 + 1 })
            }
            if !object.isEmpty { newline(indent) }
            bytes.append(UInt8(ascii: "}"))
        }
    }

    private mutating func newline(_ indent: Int?) {
        guard let indent else { return }
        bytes.append(0x0A)
        bytes.append(contentsOf: repeatElement(0x20, count: indent * 2))
    }

    static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    public mutating func writeString(_ s: String) {
        bytes.append(0x22)
        var s = s
        s.withUTF8 { utf8 in
            // The runs that need no escape appended whole: byte by byte, the appends were
            // most of writing a bulk answer's identifiers and sources.
            var run = 0
            for (i, c) in utf8.enumerated() where c < 0x20 || c == 0x22 || c == 0x5C {
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[run..<i]))
                escape(c)
                run = i + 1
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[run...]))
        }
        bytes.append(0x22)
    }

    /// The escape of `c`: a quote, a backslash or a control character.
    private mutating func escape(_ c: UInt8) {
        switch c {
        case 0x22: bytes.append(0x5C); bytes.append(0x22)
        case 0x5C: bytes.append(0x5C); bytes.append(0x5C)
        case 0x0A: bytes.append(0x5C); bytes.append(UInt8(ascii: "n"))
        case 0x0D: bytes.append(0x5C); bytes.append(UInt8(ascii: "r"))
        case 0x09: bytes.append(0x5C); bytes.append(UInt8(ascii: "t"))
        default:
            writeRaw("\\u00")
            bytes.append(JSONWriter.hex[Int(c >> 4)])
            bytes.append(JSONWriter.hex[Int(c & 0xF)])
        }
    }
}

extension JSONValue: CustomStringConvertible {
    /// Compact JSON text.
    public var description: String { JSONWriter.serialize(self) }
}
