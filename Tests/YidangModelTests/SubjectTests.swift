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
}
