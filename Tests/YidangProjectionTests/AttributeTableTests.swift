import Testing
@testable import YidangProjection

@Suite struct AttributeTableTests {
    func statement(_ source: String, _ value: String, at position: UInt64) -> Statement {
        Statement(source: source, eventId: "e\(position)", position: position, time: Int64(position), value: value)
    }

    @Test func namesStayInOrderWhateverTheInsertionOrder() throws {
        var a = AttributeTable(), b = AttributeTable()
        let names = ["phone", "name", "birthDate", "regionCode", "employer", "householdAddress"]
        for (i, n) in names.enumerated() { a.modify(n) { $0.record(statement("gongan", "v\(i)", at: UInt64(i + 1))) } }
        for (i, n) in names.enumerated().reversed() { b.modify(n) { $0.record(statement("gongan", "v\(i)", at: UInt64(i + 1))) } }
        #expect(a.keys == names.sorted())
        #expect(a == b)
        #expect(a.map(\.key) == names.sorted())
        var sa = SubjectState(subject: .init(kind: .person, id: "11010519491231002X")), sb = sa
        sa.attributes = a; sb.attributes = b
        #expect(sa.encoded() == sb.encoded())
        #expect(try SubjectState(encoded: sa.encoded()) == sa)
    }

    /// Names are ordered as String's `<` orders them whatever they are: ASCII names sharing
    /// their first eight bytes or more, one a prefix of another, names longer than fifteen
    /// bytes, Han names, and a decomposed `é`, which String puts after `f` though its first
    /// byte (`e`) sorts before. Each is found again, and a name spelled apart is found too.
    @Test func namesOfEveryKindSortAsStringsDo() {
        let names = ["registeredAddress", "registeredCapital", "register", "registered", "reg", "residenceAddress",
                     "householdAddress", "name", "names", "a", "z", "Z", "姓名", "住址", "e\u{301}x", "fx", "ex", "\u{E9}y",
                     "legalRepresentative", "legalRepresentativeId"]
        for seed in 0..<8 {
            var order = names
            var g = SystemRandomNumberGenerator()
            if seed > 0 { order.shuffle(using: &g) } else { order.reverse() }
            var t = AttributeTable()
            for (i, n) in order.enumerated() { t.modify(n) { $0.record(statement("gongan", "v\(i)", at: UInt64(i + 1))) } }
            #expect(t.keys == names.sorted(), "insertion order \(order)")
            for n in names {
                let apart = String(decoding: Array(n.utf8), as: UTF8.self)
                #expect(t.contains(apart) && t[apart] != nil && t.holdsValue(apart), "\(n)")
            }
            #expect(t["registeredAddres"] == nil && t["e"] == nil && t["住"] == nil && t["é"] == nil)
        }
    }

    /// The words kept beside the names order two names only where their first nine bytes are
    /// ASCII: a combining mark as the ninth byte composes with the eighth character, so
    /// `abcdefge` + U+0301 sorts after `abcdefgf` though its first eight bytes sort before.
    @Test func orderWordsDecideOnlyWhereTheyMayAndAgreeWithStrings() {
        #expect(AttributeTable.orderWord("abcdefge\u{301}") == 0)
        #expect(AttributeTable.orderWord("é") == 0 && AttributeTable.orderWord("") == 0 && AttributeTable.orderWord("a\u{0}b") == 0)
        #expect(AttributeTable.orderWord("abcdefgex") != 0)
        let names = ["abcdefge\u{301}", "abcdefgf", "abcdefge", "abcdefgex", "abcdefgd\u{301}x", "abcdefghij", "abc", "abcdefgh"]
        let ascii = names.filter { AttributeTable.orderWord($0) != 0 }
        for a in ascii { for b in ascii where AttributeTable.orderWord(a) != AttributeTable.orderWord(b) {
            #expect((AttributeTable.orderWord(a) < AttributeTable.orderWord(b)) == (a < b), "\(a) \(b)")
        } }
        for order in [names, names.reversed(), names.shuffled()] {
            var t = AttributeTable()
            for (i, n) in order.enumerated() {
                // Half of them given their word, as the fold gives a configured attribute's.
                t.modify(n, orderWord: i % 2 == 0 ? AttributeTable.orderWord(n) : nil) { $0.record(statement("gongan", "v\(i)", at: UInt64(i + 1))) }
            }
            #expect(t.keys == names.sorted(), "insertion order \(order)")
            #expect(names.allSatisfy { t.contains(String(decoding: Array($0.utf8), as: UTF8.self)) })
        }
    }

    /// A statement recorded as it is (a merge folds in an absorbed record's statements) keeps
    /// a steward's rejection: it stays out of survivorship.
    @Test func aRecordedStatementKeepsItsRejection() {
        var t = AttributeTable()
        t.modify("name") { $0.record(Statement(source: "gongan", eventId: "e1", position: 1, time: 1, value: "张三", rejected: true)) }
        #expect(t["name"]?.statements.first?.rejected == true)
        #expect(!t.holdsValue("name"))
    }

    /// What blocking asks before it lists a record's values: a value some department still
    /// holds (not retracted, not rejected by a steward).
    @Test func holdsValueOnlyForAValueStillHeld() {
        var t = AttributeTable()
        #expect(!t.holdsValue("name"))
        t.modify("name") { $0.record(Statement(source: "gongan", eventId: "e1", position: 1, time: 1, value: nil)) }
        #expect(!t.holdsValue("name"))
        t.modify("name") { $0.record(statement("renshe", "张三", at: 2)) }
        #expect(t.holdsValue("name") && !t.holdsValue("phone"))
        t.update("name") { a in
            for i in a.statements.indices where a.statements[i].value != nil { a.statements[i].rejected = true }
        }
        #expect(!t.holdsValue("name"))
        var state = SubjectState(subject: .init(kind: .person, id: "11010519491231002X"))
        state.attributes = t
        #expect(state.holdsValue("name") == !state.heldValues("name").isEmpty)
    }

    @Test func changesInPlaceAndRemoves() {
        var t = AttributeTable()
        t.modify("name") { $0.record(statement("gongan", "张三", at: 1)) }
        t.modify("name") { $0.record(statement("renshe", "张叁", at: 2)) }
        #expect(t["name"]?.statements.map(\.source) == ["gongan", "renshe"])
        let touched = t.update("name") { $0.openConflict = 7; return true }
        #expect(touched == true)
        #expect(t["name"]?.openConflict == 7)
        #expect(t.update("phone") { _ in true } == nil)
        #expect(!t.contains("phone"))
        t["name"] = nil
        #expect(t.isEmpty && t["name"] == nil)
    }

    @Test func stewardshipFieldsAreValuesThoughHeldOutOfLine() {
        var a = AttributeState()
        a.record(statement("gongan", "张三", at: 1))
        let plain = a
        a.openConflict = 3
        a.lastConflict = 3
        a.settledValues = ["张三"]
        var b = a
        b.pin = Pin(value: "张叁", eventId: "s1", position: 9, time: 9, steward: "王芳")
        b.openConflict = nil
        // A copy's change leaves the original as it was.
        #expect(a.pin == nil && a.openConflict == 3 && a.settledValues == ["张三"])
        #expect(b.pin?.value == "张叁" && b.openConflict == nil && b.lastConflict == 3)
        #expect(a != b)
        // Emptied again, a state equals (and hashes as) one that never had them.
        a.openConflict = nil; a.lastConflict = nil; a.settledValues = []
        #expect(a == plain)
        #expect(a.hashValue == plain.hashValue)
        #expect(Set([a, plain]).count == 1)
    }
}
