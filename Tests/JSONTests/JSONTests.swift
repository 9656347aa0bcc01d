import Testing
import JSON

@Suite struct JSONParserTests {
    @Test func parsesScalarsObjectsAndArraysInOrder() throws {
        let v = try JSONParser.parse(#" {"b": [1, -2.5e3, true, false, null], "a": "张三\n\u00e9\ud83d\ude00"} "#)
        #expect(v["b"] == .array([.number("1"), .number("-2.5e3"), .bool(true), .bool(false), .null]))
        #expect(v["a"] == .string("张三\né😀"))
        #expect(v.objectValue?.keys == ["b", "a"])
    }

    @Test func roundTripsThroughTheWriter() throws {
        let text = #"{"x":"a\"b\\c\u0001","n":0,"o":{},"l":[]}"#
        let v = try JSONParser.parse(text)
        #expect(JSONWriter.serialize(v) == text)
        #expect(try JSONParser.parse(JSONWriter.serialize(v, pretty: true)) == v)
    }

    @Test(arguments: [
        ("", "unexpected end of input"),
        ("{", "expected a string key"),
        (#"{"a":1,}"#, "expected a string key"),
        (#"{"a":1 "b":2}"#, "expected ',' or '}'"),
        (#"{"a":1,"a":2}"#, "duplicate key \"a\""),
        ("[01]", "leading zero in number"),
        ("1.", "invalid fraction"),
        (#""\x""#, "invalid escape"),
        (#""\ud800""#, "unpaired surrogate"),
        ("tru", "unexpected end of input"),
        ("{} x", "unexpected content after the JSON value"),
        ("\"a\u{01}\"", "control character in string"),
    ])
    func rejectsMalformedDocuments(_ text: String, _ reason: String) {
        #expect(throws: JSONParseError.self) { try JSONParser.parse(text) }
        do { _ = try JSONParser.parse(text) } catch { #expect(error.reason == reason) }
    }

    @Test func rejectsInvalidUTF8() {
        let bytes: [UInt8] = [0x22, 0xE5, 0xBC, 0x22]
        #expect(throws: JSONParseError(offset: 1, reason: "invalid UTF-8 in string")) { try JSONParser.parse(bytes) }
    }

    /// Strings are scanned eight bytes at a time: a byte that ends the fast path, or one that
    /// makes the string non-ASCII, is found at every offset in and around a word, in strings
    /// of every length across two words.
    @Test func findsEveryStringByteAtEveryOffsetOfAWord() throws {
        func parse(_ bytes: [UInt8]) throws -> String? { try JSONParser.parse([0x22] + bytes + [0x22]).stringValue }
        for length in 1...24 {
            let plain = Array(repeating: UInt8(ascii: "a"), count: length)
            #expect(try parse(plain) == String(repeating: "a", count: length))
            for at in 0..<length {
                var bytes = plain
                bytes[at] = 0x01
                #expect(throws: JSONParseError(offset: at + 1, reason: "control character in string")) { try parse(bytes) }
                bytes[at] = 0x1F
                #expect(throws: JSONParseError(offset: at + 1, reason: "control character in string")) { try parse(bytes) }
                bytes[at] = 0xFF    // never in UTF-8: the string must not be taken for ASCII
                #expect(throws: JSONParseError(offset: 1, reason: "invalid UTF-8 in string")) { try parse(bytes) }
                bytes[at] = UInt8(ascii: "\"")    // the string ends there; the rest is not JSON
                #expect(throws: JSONParseError.self) { try parse(bytes) }
                if at == length - 1 { continue }
                bytes = plain
                bytes[at] = UInt8(ascii: "\\"); bytes[at + 1] = UInt8(ascii: "n")
                let expected = String(repeating: "a", count: at) + "\n" + String(repeating: "a", count: length - at - 2)
                #expect(try parse(bytes) == expected)
                bytes[at] = 0x20; bytes[at + 1] = 0x7F    // the bytes around the control range stay
                #expect(try parse(bytes)?.utf8.count == length)
            }
            // A character of three bytes at every offset (straddling two words at some).
            for at in 0...length {
                let text = String(repeating: "a", count: at) + "张" + String(repeating: "b", count: length - at)
                #expect(try parse(Array(text.utf8)) == text)
                var broken = Array(text.utf8)
                broken.remove(at: at + 2)    // a truncated sequence
                #expect(throws: JSONParseError(offset: 1, reason: "invalid UTF-8 in string")) { try parse(broken) }
            }
        }
    }

    /// Invalid UTF-8 is refused even where its repair would be as long as the input (a
    /// four-byte sequence cut after three bytes, before an ASCII byte), and a string that
    /// holds U+FFFD itself, what a repair writes, is valid and kept.
    @Test func refusesInvalidUTF8OfEveryShapeAndKeepsAReplacementCharacter() throws {
        let invalid: [[UInt8]] = [[0xF0, 0x90, 0x80, 0x41], [0xED, 0xA0, 0x80], [0xC0, 0xAF], [0xE0, 0x80, 0x80],
                                  [0xF4, 0x90, 0x80, 0x80], [0x80], [0xE5, 0xBC], [0xFE], [0xF8, 0x88, 0x80, 0x80, 0x80]]
        for bytes in invalid {
            #expect(throws: JSONParseError(offset: 2, reason: "invalid UTF-8 in string"), "\(bytes)") {
                try JSONParser.parse(Array(#"["张"#.utf8) + bytes + Array(#""]"#.utf8))
            }
        }
        #expect(try JSONParser.parse(#"["张\#u{FFFD}三\#u{10FFFF}"]"#) == .array([.string("张\u{FFFD}三\u{10FFFF}")]))
    }

    /// A key given twice is found whatever its length (held inline by String up to fifteen
    /// bytes, stored apart past that), its script, and however it is spelled (an escape);
    /// keys that differ in one byte, or only in length, are not taken for each other.
    @Test func findsADuplicateKeyOfAnyLengthAndSpelling() throws {
        for length in 1...20 {
            for unit in ["k", "名"] {
                let key = String(repeating: unit, count: length)
                #expect(throws: JSONParseError.self) { try JSONParser.parse(#"{"\#(key)":1,"x":2,"\#(key)":3}"#) }
                let other = String(key.dropLast()) + (unit == "k" ? "j" : "字")
                let v = try JSONParser.parse(#"{"\#(key)":1,"\#(other)":2,"\#(key)x":3,"\#(key.dropLast())":4}"#)
                #expect(v.objectValue?.count == 4)
            }
        }
        #expect(throws: JSONParseError(offset: 8, reason: "duplicate key \"ab\"")) { try JSONParser.parse(#"{"ab":1,"a\u0062":2}"#) }
    }

    @Test func rejectsExcessiveNesting() {
        let deep = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(throws: JSONParseError.self) { try JSONParser.parse(deep) }
    }
}

@Suite struct StringIdentityTests {
    @Test func sharedStringsAreKnownByIdentityAndEqualCopiesAreNot() throws {
        let a = String(decoding: Array("registeredAddress".utf8), as: UTF8.self)
        let b = String(decoding: Array("registeredAddress".utf8), as: UTF8.self)
        let c = a
        #expect(a.sharesStorage(with: c))
        // Equal but stored twice: identity says nothing, so lookups fall back to comparing.
        #expect(a == b && !a.sharesStorage(with: b))
        #expect(!a.sharesStorage(with: String(decoding: Array("registeredAddresz".utf8), as: UTF8.self)))
        // Small strings hold their bytes inline: equal ones are identical.
        #expect("name".sharesStorage(with: String("nam") + "e"))
        #expect(!"name".sharesStorage(with: "nome"))
        // What an intern table returns is shared.
        let table = InternTable(["registeredAddress"])
        let encoded: [UInt8] = [17] + Array("registeredAddress".utf8)
        let first = try BinaryReader.read(encoded) { r throws(BinaryDecodingError) in try r.string(interning: table) }
        let second = try BinaryReader.read(encoded) { r throws(BinaryDecodingError) in try r.string(interning: table) }
        #expect(first.sharesStorage(with: second))
        // Found by length and words wherever the bytes lie: at a buffer's end (too near it to
        // load sixteen bytes), inside a longer buffer, past sixteen bytes; a string of the
        // same length and first bytes, or an empty one, is made afresh.
        let names = InternTable(["gongan", "name", "registeredAddress", "registeredCapital", "person.updated"])
        var w = BinaryWriter(capacity: 64)
        for s in ["name", "registeredCapital", "nama", "", "registeredCapitaL", "person.updated", "gongan"] { w.string(s) }
        let read = try BinaryReader.read(w.bytes) { r throws(BinaryDecodingError) in
            try (0..<7).map { _ throws(BinaryDecodingError) in try r.string(interning: names) }
        }
        #expect(read == ["name", "registeredCapital", "nama", "", "registeredCapitaL", "person.updated", "gongan"])
        let again = try BinaryReader.read(w.bytes) { r throws(BinaryDecodingError) in
            try (0..<7).map { _ throws(BinaryDecodingError) in try r.string(interning: names) }
        }
        // Interned ones share storage across reads; made-afresh large ones do not.
        #expect(read[1].sharesStorage(with: again[1]) && read[6].sharesStorage(with: again[6]))
        #expect(!read[4].sharesStorage(with: again[4]))
    }

    /// The byte-wise equality the writer uses for names gives `==`'s answer for normalized
    /// text: small and large, ASCII and not, prefixes of each other.
    @Test func byteEqualityAgreesWithStringsOwnOnNormalizedText() {
        let words = ["", "a", "name", "nam", "names", "phone", "birthDate", "regionCode", "residenceAddress",
                     "residenceAddresz", "registeredAddress", "legalRepresentative", "张三", "张叁", "name张",
                     "宁波市四明中路596号", "宁波市四明中路596号楼", "Zeta", "zeta", "é"]
        // Copies built from bytes: equal strings stored apart, so identity decides nothing.
        let copies = words.map { String(decoding: Array($0.utf8), as: UTF8.self) }
        for a in words {
            for b in copies { #expect(a.hasSameUTF8(as: b) == (a == b), "\(a) == \(b)") }
        }
        // A lookup by name finds a copy stored apart, and misses what is absent.
        let names = copies.map { (name: $0, length: $0.utf8.count) }
        #expect(names.firstIndex(named: "residenceAddress", by: \.name) == 8)
        #expect(names.firstIndex(named: "宁波市四明中路596号", by: \.name) == 15)
        #expect(names.firstIndex(named: "registeredAddresz", by: \.name) == nil)
        // Decomposed text equals its composed form for `==`, not byte for byte.
        #expect("caf\u{E9}" == "cafe\u{301}" && !"caf\u{E9}".hasSameUTF8(as: "cafe\u{301}"))
    }
}

@Suite struct BinaryCodecTests {
    /// One-byte varints are written in place while the buffer has room; the one that meets a
    /// full buffer grows it like any other write.
    @Test func oneByteVarintsFillTheBufferAndGrowIt() throws {
        var w = BinaryWriter(capacity: 16)
        let values = (0..<100).map { UInt64($0 * 37 % 128) }
        for v in values { w.varint(v) }
        #expect(w.count == 100)
        #expect(w.bytes == values.map { UInt8($0) })
    }

    @Test func writerGrowsPastItsCapacityAndReadsBackEveryField() throws {
        var w = BinaryWriter(capacity: 16)
        let long = String(repeating: "浙江省宁波市", count: 40)   // 720 bytes: several doublings
        let values: [UInt64] = [0, 1, 127, 128, 300, UInt64(UInt32.max), UInt64.max]
        for v in values { w.varint(v) }
        w.int(-1_700_000_000_000_000)
        w.string("")
        w.string(long)
        w.optionalString(nil)
        w.optionalString("small")
        w.bool(true)
        w.byte(0xAB)
        w.json(["a": [1, nil, false], "b": "张三"])
        let bytes = w.bytes
        #expect(bytes.count == w.count)
        w.withBytes { #expect(Array($0) == bytes) }

        // Read back inside the reader's scope, checked outside it.
        typealias Fields = (varints: [UInt64], int: Int64, empty: String, long: String, none: String?, small: String?,
                            flag: Bool, byte: UInt8, json: JSONValue, atEnd: Bool)
        let read: Fields = try BinaryReader.read(bytes) { r throws(BinaryDecodingError) in
            var varints: [UInt64] = []
            for _ in values { varints.append(try r.varint()) }
            return (varints, try r.int(), try r.string(), try r.string(), try r.optionalString(), try r.optionalString(),
                    try r.bool(), try r.byte(), try r.json(), r.isAtEnd)
        }
        #expect(read.varints == values)
        #expect(read.int == -1_700_000_000_000_000)
        #expect(read.empty == "")
        #expect(read.long == long)
        #expect(read.none == nil)
        #expect(read.small == "small")
        #expect(read.flag)
        #expect(read.byte == 0xAB)
        #expect(read.json == ["a": [1, nil, false], "b": "张三"])
        #expect(read.atEnd)
        // A truncated record is an error, not a crash: every field read checks the bytes left.
        for cut in [1, 9, bytes.count / 2, bytes.count - 1] {
            #expect(throws: BinaryDecodingError.self) {
                try BinaryReader.read(Array(bytes.prefix(cut))) { r throws(BinaryDecodingError) in
                    for _ in values { _ = try r.varint() }
                    _ = (try r.int(), try r.string(), try r.string(), try r.optionalString(), try r.optionalString(),
                         try r.bool(), try r.byte(), try r.json())
                }
            }
        }
    }
}

/// A parser told which keys to expect gives back the table's own strings for them, and
/// otherwise parses exactly as without the table.
@Suite struct JSONKeyTableTests {
    let table = JSONKeyTable(["specversion", "id", "type", "time", "residenceAddress", "householdAddress",
                              "名称", "a", "ab", "ba", "id", "unifiedSocialCreditCode", "unifiedSocialCreditCodX",
                              // One length, first and last byte and first sixteen bytes: one probe chain.
                              "unifiedSocialCreditCodeQ", "unifiedSocialCreditCodRQ"])

    @Test func aDocumentParsesAlikeWithAndWithoutTheTable() throws {
        let documents = [
            #"{"specversion":"1.0","id":"x","type":"t","time":"now","data":{"residenceAddress":"宁波","name":"张三"}}"#,
            #"{"i\u0064":"escaped key","typ":"a prefix","types":"longer","Type":"case","名称":"ok","名":"shorter"}"#,
            #"{"a":{"ab":{"ba":["a","ab",{"b":1}]}},"householdAddress":null,"householdAddres":true}"#,
            #"{"":1," id":2,"id ":3,"residenceAddresS":4}"#,
            #"[{"id":1},{"id":2},"id",{"time":{"time":0}}]"#,
            #"{"unifiedSocialCreditCode":1,"unifiedSocialCreditCodY":2,"unifiedSocialCreditCodX":3,"unifiedSocialCredit":4}"#,
            #"{"residenceAddress":{"householdAddress":{"ab":{"a":0}}}}"#,
            #"{"a":1}"#, #"{"ba":2}"#,
            #"{"unifiedSocialCreditCoZeQ":1,"unifiedSocialCreditCodRQ":2,"unifiedSocialCreditCodeQ":3}"#,
        ]
        for text in documents {
            let with = try JSONParser.parse(Array(text.utf8), keys: table)
            let without = try JSONParser.parse(Array(text.utf8))
            #expect(with == without, "\(text)")
        }
    }

    @Test func aKnownKeyIsTheTablesString() throws {
        let long = "residenceAddress"   // longer than fifteen bytes: stored out of line
        let table = JSONKeyTable([long, "id"])
        let doc = try JSONParser.parse(Array(#"{"residenceAddress":1,"id":2,"other":3}"#.utf8), keys: table)
        guard case .object(let o) = doc else { Issue.record("not an object"); return }
        let keys = Array(o.keys)
        #expect(keys == ["residenceAddress", "id", "other"])
        #expect(keys[0].sharesStorage(with: long))
        // Without the table the parser makes its own copy.
        guard case .object(let plain) = try JSONParser.parse(Array(#"{"residenceAddress":1}"#.utf8)) else { return }
        #expect(!Array(plain.keys)[0].sharesStorage(with: long))
    }

    @Test func duplicateKeysAreRefusedWhetherKnownOrNot() throws {
        for text in [#"{"id":1,"id":2}"#, #"{"id":1,"i\u0064":2}"#, #"{"i\u0064":1,"id":2}"#, #"{"名称":1,"名称":2}"#,
                     #"{"x":1,"x":2}"#, #"{"x":1,"id":2,"a":3,"x":4}"#, #"{"a":{"ab":1,"ab":2}}"#] {
            #expect(throws: JSONParseError.self, "\(text)") { try JSONParser.parse(Array(text.utf8), keys: table) }
        }
        // One key in sibling and nested objects is no duplicate.
        let nested = #"{"id":{"id":1,"type":2},"type":{"id":3},"a":[{"id":4},{"id":5}]}"#
        #expect(try JSONParser.parse(Array(nested.utf8), keys: table) == JSONParser.parse(Array(nested.utf8)))
        // Keys placed past the sixty-fourth of a large table are told apart as well.
        let many = (0..<100).map { "key\($0)" }
        let big = JSONKeyTable(many)
        for (first, second) in [("key99", "key99"), ("key70", "key7\\u0030"), ("key3", "key3"), ("key80", "key80")] {
            let text = "{\"\(first)\":1,\"key5\":2,\"\(second)\":3}"
            #expect(throws: JSONParseError.self, "\(text)") { try JSONParser.parse(Array(text.utf8), keys: big) }
        }
        let distinct = "{" + many.reversed().map { "\"\($0)\":0" }.joined(separator: ",") + "}"
        #expect(try JSONParser.parse(Array(distinct.utf8), keys: big) == JSONParser.parse(Array(distinct.utf8)))
    }

    @Test func everyKeyHasAPlaceOfItsOwn() {
        let many = (0..<300).map { "key\($0)" } + ["名称", "é"]
        let big = JSONKeyTable(many)
        let places = many.map { big.index(of: $0) }
        #expect(places.allSatisfy { $0 != nil && $0! >= 0 && $0! < big.count })
        #expect(Set(places.compactMap { $0 }).count == many.count)
        #expect(big.index(of: "key300") == nil)
        #expect(big.index(of: "") == nil)
        // Byte for byte: a canonically equivalent spelling is another key.
        #expect("e\u{301}" == "é")
        #expect(big.index(of: "e\u{301}") == nil)
    }

    @Test func theTableHoldsEachKeyOnce() {
        #expect(table.count == 14)
        #expect(JSONKeyTable([]).count == 0)
        #expect(JSONKeyTable(["", "x", "x"]).count == 1)
        // Many keys: every one is found again.
        let many = (0..<300).map { "key\($0)" }
        let big = JSONKeyTable(many)
        let doc = "{" + many.enumerated().map { "\"\($1)\":\($0)" }.joined(separator: ",") + "}"
        guard case .object(let o) = try? JSONParser.parse(Array(doc.utf8), keys: big) else { Issue.record("no object"); return }
        #expect(Array(o.keys) == many)
    }
}

@Suite struct JSONWriterTests {
    @Test(arguments: [Int64(0), 7, -7, 10, 1000, -1000, 999_999_999_999, Int64.max, Int64.min])
    func writesAnIntegerAsItsDecimalDigits(_ value: Int64) {
        var w = JSONWriter()
        w.writeInteger(value)
        #expect(String(decoding: w.bytes, as: UTF8.self) == String(value))
    }

    @Test func writesUnsignedIntegersBeyondInt64() {
        var w = JSONWriter()
        w.writeInteger(UInt64.max)
        w.writeRaw(",")
        w.writeInteger(UInt8(200))
        #expect(String(decoding: w.bytes, as: UTF8.self) == "18446744073709551615,200")
    }

    @Test(arguments: ["", "plain", "\"", "\\", "\"lead", "trail\\", "mid\"dle\nline\t张三\u{01}\u{1F}end", "\u{7F}é😀"])
    func escapesExactlyWhatRFC8259Requires(_ text: String) throws {
        var w = JSONWriter()
        w.writeString(text)
        let written = String(decoding: w.bytes, as: UTF8.self)
        #expect(try JSONParser.parse(w.bytes) == .string(text))
        // Only the quote, the backslash and control characters are escaped; the rest is as given.
        let escapes = text.unicodeScalars.filter { $0.value < 0x20 || $0 == "\"" || $0 == "\\" }
        let longer = escapes.reduce(0) { $0 + (["\n", "\r", "\t", "\"", "\\"].contains($1) ? 1 : 5) }
        #expect(written.utf8.count == text.utf8.count + 2 + longer)
    }
}

@Suite struct NDJSONTests {
    @Test func numbersEveryLineAndSkipsBlankOnes() {
        let body = Array("{\"a\":1}\n\n  \t\r\n{\"b\":2}\r\n{\"c\":3}".utf8)
        let lines = NDJSON.lines(body)
        #expect(lines.map(\.number) == [1, 4, 5])
        #expect(lines.map { String(decoding: $0.bytes, as: UTF8.self) } == ["{\"a\":1}", "{\"b\":2}\r", "{\"c\":3}"])
    }

    @Test func aTrailingNewlineAddsNoLineAndAnEmptyBodyHasNone() {
        #expect(NDJSON.lines(Array("{}\n".utf8)).map(\.number) == [1])
        #expect(NDJSON.lines([]).isEmpty)
        #expect(NDJSON.lines(Array("\n\n".utf8)).isEmpty)
    }

    @Test func aLineParsesInPlaceWithOffsetsFromItsOwnStart() throws {
        let lines = NDJSON.lines(Array("{\"a\":[1,2]}\n{\"b\":tru}\n".utf8))
        #expect(try JSONParser.parse(lines[0].bytes) == .object(["a": .array([.number("1"), .number("2")])]))
        #expect(throws: JSONParseError(offset: 5, reason: "invalid literal")) { try JSONParser.parse(lines[1].bytes) }
    }
}
