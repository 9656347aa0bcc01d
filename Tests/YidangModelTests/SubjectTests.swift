import Foundation
import Identifiers
import JSON
import Testing
@testable import YidangModel

@Suite struct SubjectTests {
    /// Packed or not, a subject means its kind and identifier: equal, hashed and encoded alike
    /// however it was made, and an identifier too long to pack reads back whole.
    @Test func packedAndTextSubjectsBehaveAsTheirIdentifier() throws {
        let ids = ["11010519491231002X", "91310115MA1K3BTP2B", "", "x", "123456789012345678901234",
                   "1234567890123456789012345", "张三的一个很长很长的标识符"]
        for id in ids {
            let a = Subject(kind: .person, id: id)
            var bytes = Array(id.utf8)
            let b = bytes.withUnsafeMutableBufferPointer { Subject(kind: .person, idBytes: UnsafeBufferPointer($0)) }
            #expect(a == b)
            #expect(a.hashValue == b.hashValue)
            let c = Subject(kind: .person, id: bytes.span)
            #expect(a == c && a.hashValue == c.hashValue)
            #expect(a.id == id)
            #expect(a.idByteCount == id.utf8.count)
            #expect(a.description == "person/" + id)
            #expect(a.withIDBytes { Array($0) } == Array(id.utf8))
            #expect(a != Subject(kind: .enterprise, id: id))
            var w = BinaryWriter()
            w.subject(a)
            let read = try BinaryReader.read(w.bytes) { r throws(BinaryDecodingError) in (try r.subject(), r.isAtEnd) }
            #expect(read.0 == a)
            #expect(read.1)
        }
        // Trailing zero bytes are part of the identifier, not padding.
        #expect(Subject(kind: .person, id: "1") != Subject(kind: .person, id: "1\u{0}"))
        #expect(Subject(kind: .person, id: "a") < Subject(kind: .person, id: "b"))
    }

    /// Subjects that differ anywhere (the kind, a byte in any of the packed words, the length,
    /// packed or spelled out) are different dictionary keys, and each is found again by a
    /// subject made afresh: equality and hashing look at everything that tells them apart.
    @Test func subjectsThatDifferAnywhereAreDifferentKeys() {
        var ids: [String] = ["", "1", "1\u{0}", "123456789012345678901234", "1234567890123456789012345", "张三的一个很长很长的标识符"]
        let base = Array("11010519491231002X123456".utf8)
        for i in base.indices {
            var changed = base
            changed[i] = changed[i] == UInt8(ascii: "9") ? UInt8(ascii: "8") : UInt8(ascii: "9")
            ids.append(String(decoding: changed, as: UTF8.self))
            ids.append(String(decoding: changed, as: UTF8.self) + "Z")
            ids.append(String(decoding: changed.prefix(i + 1), as: UTF8.self))
        }
        ids = Array(Set(ids))
        var index: [Subject: Int] = [:]
        for (n, id) in ids.enumerated() {
            for kind in EntityKind.allCases { index[Subject(kind: kind, id: id)] = 2 * n + (kind == .person ? 0 : 1) }
        }
        #expect(index.count == 2 * ids.count)
        for (n, id) in ids.enumerated() {
            var bytes = Array(id.utf8)
            let fresh = bytes.withUnsafeMutableBufferPointer { Subject(kind: .enterprise, idBytes: UnsafeBufferPointer($0)) }
            #expect(index[Subject(kind: .person, id: id)] == 2 * n, "\(id)")
            #expect(index[fresh] == 2 * n + 1, "\(id)")
        }
    }

    /// A city's national identifiers differ in a few digits (birth date, sequence, check
    /// character); dictionaries take a table's slot from a hash's low bits. Hashed under any
    /// table seed, 65,536 such subjects spread over 4,096 slots by their low bits as by their
    /// high bits about as chance would (at most 40 in any slot where 16 is the mean; a mix
    /// that left the digits' structure in place fills some slots hundreds deep).
    @Test func aCitysIdentifiersSpreadOverATablesSlots() {
        var subjects: [Subject] = []
        for n in 0..<65_536 {
            let birth = String(format: "19%02d%02d%02d", 50 + n % 50, 1 + n / 50 % 12, 1 + n / 600 % 28)
            subjects.append(Subject(kind: .person, id: CitizenID.make(region: "330203", birth: birth, sequence: n / 16_800 % 1000)))
        }
        #expect(Set(subjects).count == 65_536)
        for seed in [0, 1, Int.random(in: .min ... .max)] {
            var low = [Int](repeating: 0, count: 4_096), high = low
            for s in subjects {
                let h = UInt64(truncatingIfNeeded: s._rawHashValue(seed: seed))
                low[Int(h & 4_095)] += 1
                high[Int(h >> 52)] += 1
            }
            // Sixteen a slot on average. A uniform hash puts more than 48 in some slot of the six
            // tables about once in 1.5 million runs (Poisson tail); 40 failed about once in 300,
            // the secret being drawn per process.
            #expect(low.max()! <= 48 && high.max()! <= 48, "seed \(seed): fullest slot \(low.max()!) by low bits, \(high.max()!) by high bits")
        }
    }

    /// The in-place reading of `person/<公民身份号码>` takes only what the full parse keeps as
    /// it is, and gives the same subject; everything else goes to the full parse, whose
    /// answer (a subject or the rejection naming the rule) the validator still gives.
    @Test func aNormalizedPersonIsReadInPlaceAsTheFullParseReadsIt() {
        let validator = EventValidator(configuration: .default)
        var texts: [String] = []
        var rng = SystemRandomNumberGenerator()
        for n in 0..<2_000 {
            let year = 1900 + Int.random(in: 0...124, using: &rng), month = Int.random(in: 1...12, using: &rng), day = Int.random(in: 1...31, using: &rng)
            let birth = String(format: "%04d%02d%02d", year, month, day)
            let region = ["110105", "330203", "310115", "990000", "650102"][n % 5]
            let valid = CitizenID.make(region: region, birth: birth, sequence: n % 1000)
            texts.append("person/" + valid)
            // One character changed: a wrong check character, a letter, a lower-case x.
            var bytes = Array(valid.utf8)
            let i = Int.random(in: 0..<18, using: &rng)
            bytes[i] = [UInt8(ascii: "0") + UInt8(n % 10), UInt8(ascii: "X"), UInt8(ascii: "x"), UInt8(ascii: "A")][n % 4]
            texts.append("person/" + String(decoding: bytes, as: UTF8.self))
        }
        texts += ["person/110105491231002", "person/ 11010519491231002X", "person/11010519491231002x",
                  "person/１１０１０５１９４９１２３１００２Ｘ", "person/YD0000000001", "person/local/abc-1", "enterprise/11010519491231002X",
                  "persons/11010519491231002X", "person/11010519491231002X ", "person/11010519491231002", "11010519491231002X", "person/"]
        var fast = 0
        for text in texts {
            let full: Result<Subject, EventRejection> = Result { () throws(EventRejection) in try Subject(reference: text) }
            if let inPlace = Subject(normalizedPerson: text) {
                fast += 1
                #expect((try? full.get()) == inPlace, "\(text)")
                #expect(inPlace.id == String(text.dropFirst(7)))
            }
            let validated: Result<Subject, EventRejection> = Result { () throws(EventRejection) in try validator.parseSubject(text, field: "subject", source: "gongan") }
            // A national number the full parse keeps as it is (a hub identifier is not one).
            let keptAsIs = !text.contains("/YD") && ((try? full.get()).map { text == $0.description } ?? false)
            #expect(keptAsIs == (Subject(normalizedPerson: text) != nil), "\(text): kept as it is by the full parse: \(keptAsIs)")
            // The validator wants a kind before the slash, and the local and hub forms are its own.
            switch (validated, !text.contains("/") || text.contains("/local/") || text.contains("/YD") ? nil : full) {
            case (.success(let s), .success(let f)?): #expect(s == f, "\(text)")
            case (.failure(let r), .failure(let f)?): #expect(r.field == f.field && r.code == f.code && r.reason == f.reason, "\(text)")
            case (_, nil): break
            default: Issue.record("\(text): validator \(validated), full parse \(full)")
            }
        }
        #expect(fast > 1_000)
    }
}
