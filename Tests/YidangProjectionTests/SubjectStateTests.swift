import Testing
import YidangModel
@testable import YidangProjection

@Suite struct SubjectStateTests {
    /// The identity part is held out of line and shared between copies: it must still
    /// compare, hash, encode and change as a value.
    @Test func theIdentityPartIsAValueOfTheState() throws {
        var a = SubjectState(subject: person)
        a.attributes.modify("name") { $0.record(Statement(source: "gongan", eventId: "e1", position: 1, time: 1, value: "张三")) }
        let plain = a
        let local = Subject(kind: .person, id: "local:renshe:A-1")
        a.updateIdentity { $0.members.append(local) }
        #expect(a != plain)
        #expect(a.hashValue != plain.hashValue)
        #expect(plain.identity == nil)
        // A copy changed afterwards leaves the original as it was.
        var b = a
        b.updateIdentity { $0.distinct.append(Subject(kind: .person, id: "11010519491231002X")) }
        #expect(a.members == [local] && a.identity?.distinct == [])
        #expect(b != a)
        // Emptied, the part is gone, and the state equals one that never had it.
        b.updateIdentity { $0 = IdentityInfo() }
        #expect(b == plain && b.hashValue == plain.hashValue)
        #expect(try SubjectState(encoded: a.encoded()) == a)
        #expect(try SubjectState(encoded: a.encoded()).members == [local])
    }
}
