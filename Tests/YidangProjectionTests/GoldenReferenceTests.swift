import Testing
import YidangModel
@testable import YidangProjection

/// An attribute's golden value is held as a reference to the statement or pin it was taken
/// from: it must show the same value, lineage and change records as a copy would, whatever
/// happens to the statements and the pin around it.
@Suite struct GoldenReferenceTests {
    func statement(_ source: String, _ value: String?, at position: UInt64) -> Statement {
        Statement(source: source, eventId: "\(source)-\(position)", position: position, time: Int64(position), value: value)
    }

    func roundTrip(_ a: AttributeState) throws -> AttributeState? {
        var s = SubjectState(subject: person)
        s.attributes["name"] = a
        return try SubjectState(encoded: s.encoded()).attributes["name"]
    }

    /// Three words: the statements, the out-of-line fields and the reference (a copy of the
    /// golden value held three more strings and two integers for every attribute).
    @Test func anAttributeStateIsThreeWords() {
        #expect(MemoryLayout<AttributeState>.stride <= 3 * MemoryLayout<Int>.stride)
    }

    @Test func theChangeRecordShowsTheValueTheWinnersNextStatementReplaced() throws {
        var h = Harness()
        try h.assert("gongan", 1, ["name": "张三"])
        try h.assert("gongan", 2, ["name": "张叁"])
        var last = try #require(h.changes.last?.changes.first)
        #expect((last.old, last.new, last.oldSource, last.source) == ("张三", "张叁", "gongan", "gongan"))
        #expect(h.golden("name")?.eventId == "gongan-2")
        // A retraction of the winner goes through the general path.
        try h.apply("gongan", 3, .retract(["name"]))
        last = try #require(h.changes.last?.changes.first)
        #expect((last.old, last.new, last.oldSource, last.source) == ("张叁", nil, "gongan", nil))
        #expect(h.golden("name") == nil)
        #expect(try roundTrip(h.state.attributes["name"]!) == h.state.attributes["name"])
    }

    @Test func theGoldenValueFollowsItsStatementWhenAnotherSortsBeforeIt() throws {
        var h = Harness()
        try h.assert("zhujian", 5, ["residenceAddress": "B"])
        // gongan sorts before zhujian: its statement goes in ahead of the winner's.
        try h.assert("gongan", 9, ["residenceAddress": "A"])
        #expect(h.state.attributes["residenceAddress"]?.statements.map(\.source) == ["gongan", "zhujian"])
        let g = try #require(h.golden("residenceAddress"))
        #expect((g.value, g.source, g.eventId, g.conflict) == ("B", "zhujian", "zhujian-1", true))
        #expect(try roundTrip(h.state.attributes["residenceAddress"]!)?.golden == g)
    }

    /// What an attribute the configuration no longer has sees: statements recorded, and no
    /// survivorship after them.
    @Test func theGoldenValueStaysAsItWasUntilSurvivorshipRuns() throws {
        var a = AttributeState()
        a.record(statement("renshe", "张三", at: 1))
        a.golden = GoldenValue(value: "张三", source: "renshe", eventId: "renshe-1", position: 1, time: 1, conflict: false)
        let before = a.golden
        // gongan sorts before renshe: its statement goes in ahead of the golden value's.
        a.record(statement("gongan", "章三", at: 2))
        #expect(a.statements.map(\.source) == ["gongan", "renshe"])
        #expect(a.golden == before)
        // The golden value's own statement superseded.
        a.record(statement("renshe", "张叁", at: 3))
        #expect(a.golden == before)
        #expect(a.goldenText == "张三")
        #expect(try roundTrip(a) == a)
        // A statement that does not supersede leaves everything as it was.
        let now = a
        a.record(statement("renshe", "张四", at: 0))
        #expect(a == now)
    }

    @Test func changingThePinKeepsTheGoldenValueItShowed() throws {
        var a = AttributeState()
        a.record(statement("minzheng", "已婚", at: 1))
        a.pin = Pin(value: "离婚", eventId: "steward-2", position: 2, time: 2, steward: "王芳")
        a.golden = GoldenValue(a.pin!, conflict: false)
        let pinned = a.golden
        a.pin = Pin(value: "未婚", eventId: "steward-3", position: 3, time: 3, steward: "王芳")
        #expect(a.golden == pinned)
        a.pin = nil
        #expect(a.golden == pinned)
        #expect(try roundTrip(a) == a)
    }

    /// Through the projector: a second pin's change record starts from the first pin.
    @Test func aSecondPinReplacesTheFirstInTheChangeRecord() throws {
        var h = Harness()
        try h.assert("gongan", 1, ["maritalStatus": "未婚"])
        try h.assert("minzheng", 2, ["maritalStatus": "已婚"])
        try h.decide(.pin, conflict: 1, value: "离婚")
        try h.assert("gongan", 3, ["maritalStatus": "丧偶"])
        let reopened = try #require(h.openConflicts.first)
        #expect(h.golden("maritalStatus")?.value == "离婚")
        try h.decide(.pin, conflict: reopened.id, value: "再婚")
        let last = try #require(h.changes.last?.changes.first)
        #expect((last.old, last.new, last.oldSource, last.source) == ("离婚", "再婚", "steward", "steward"))
    }
}
