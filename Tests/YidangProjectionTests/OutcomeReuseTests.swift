import JSON
import Testing
@testable import YidangModel
@testable import YidangProjection

/// The projection writer folds every event into one recycled ``ProjectionOutcome``; these
/// check that an outcome reused that way says exactly what a new one says.
@Suite struct OutcomeReuseTests {
    /// Events that open and settle conflicts, move links and request a correction.
    func events() -> [Event] {
        var out: [Event] = []
        func add(_ source: String, _ hour: Int, _ body: EventBody) {
            var e = Event(id: "\(source)-\(out.count + 1)", source: source, type: "person.updated", subject: person,
                          time: Int64(hour) * 3_600_000_000, timeText: "", dataContentType: nil, data: .null, body: body)
            e.position = UInt64(out.count + 1)
            e.ingestTime = 1_000_000_000 + Int64(out.count + 1)
            out.append(e)
        }
        add("gongan", 1, .assert([Assertion(attribute: "name", value: "张三"), Assertion(attribute: "residenceAddress", value: "海曙区1号")]))
        add("renshe", 2, .assert([Assertion(attribute: "employer", value: "91330200MA2XXXXX1K")]))
        add("zhujian", 3, .assert([Assertion(attribute: "residenceAddress", value: "江北区2号")]))   // a conflict opens
        add("renshe", 4, .assert([Assertion(attribute: "employer", value: "91330200MA2YYYYY2K")]))   // a link moves
        add("gongan", 5, .assert([Assertion(attribute: "name", value: "张三")]))                    // nothing to say
        add("steward", 6, .steward(StewardDecision(conflictId: 1, attribute: "residenceAddress", action: .reject,
                                                   value: nil, rejectedSource: "zhujian", steward: "王芳", note: "核实")))
        add("renshe", 7, .retract(["employer"]))
        return out
    }

    @Test func aRecycledOutcomeSaysWhatANewOneSays() throws {
        let projector = Projector(configuration: config)
        var fresh = (state: SubjectState(subject: person), ledger: InMemoryConflictLedger())
        var reused = (state: SubjectState(subject: person), ledger: InMemoryConflictLedger())
        var outcome = ProjectionOutcome()
        var sawCorrection = false, sawLinkMove = false, sawConflict = false, sawSilence = false
        for e in events() {
            let expected = try projector.apply(e, to: &fresh.state, ledger: &fresh.ledger)
            fresh.ledger.store(expected)
            outcome.recycle()
            try projector.apply(e, to: &reused.state, ledger: &reused.ledger, into: &outcome)
            reused.ledger.store(outcome)
            #expect(outcome.changes == expected.changes)
            #expect(outcome.conflicts == expected.conflicts)
            #expect(outcome.opened == expected.opened)
            #expect(outcome.linksAdded == expected.linksAdded)
            #expect(outcome.linksRemoved == expected.linksRemoved)
            #expect(outcome.corrections == expected.corrections)
            #expect(reused.state == fresh.state)
            sawCorrection = sawCorrection || !expected.corrections.isEmpty
            sawLinkMove = sawLinkMove || (!expected.linksAdded.isEmpty && !expected.linksRemoved.isEmpty)
            sawConflict = sawConflict || !expected.opened.isEmpty
            sawSilence = sawSilence || expected.changes.isEmpty
        }
        // The sequence exercised what it is meant to.
        #expect(sawCorrection && sawLinkMove && sawConflict && sawSilence)
    }

    @Test func causingEventIdsAreValuesWhateverTheirNumber() throws {
        var one = ChangeRecord(kind: .golden, logPosition: 1, subject: person, version: 1, time: 0)
        one.setCause("gongan-1")
        var viaList = ChangeRecord(kind: .golden, logPosition: 1, subject: person, version: 1, time: 0)
        viaList.eventIds = ["gongan-1"]
        #expect(one == viaList && one.hashValue == viaList.hashValue)
        #expect(one.eventIds == ["gongan-1"])
        var none = viaList
        none.eventIds = []
        #expect(none == ChangeRecord(kind: .golden, logPosition: 1, subject: person, version: 1, time: 0))
        var many = viaList
        many.eventIds = ["a", "b", "c"]
        for record in [one, none, many] {
            let back = try ChangeRecord(encoded: record.encoded())
            #expect(back == record)
            #expect(back.eventIds == record.eventIds)
        }
    }

    /// A correction's and a merge's fields are held apart from the record; each reads back
    /// as set, survives the stored form, and a record whose fields are all set back to nil is
    /// the same value as one that never had any.
    @Test func noticeFieldsAreValuesWhereverTheyAreHeld() throws {
        let plain = ChangeRecord(kind: .golden, logPosition: 3, subject: person, version: 2, time: 7)
        var correction = ChangeRecord(kind: .correction, logPosition: 3, subject: person, version: 2, time: 7)
        correction.department = "zhujian"; correction.attribute = "residenceAddress"; correction.conflictId = 12
        correction.rejectedValue = "江北区2号"; correction.rejectedEventId = "zhujian-3"; correction.steward = "王芳"
        correction.note = "核实"
        #expect(correction.department == "zhujian" && correction.attribute == "residenceAddress" && correction.conflictId == 12)
        #expect(correction.rejectedValue == "江北区2号" && correction.rejectedEventId == "zhujian-3")
        #expect(correction.steward == "王芳" && correction.note == "核实" && correction.related == nil)
        var merged = ChangeRecord(kind: .merged, logPosition: 4, subject: person, version: 3, time: 8)
        merged.related = Subject(kind: .person, id: "local/gongan/A-17")
        for record in [plain, correction, merged] {
            let back = try ChangeRecord(encoded: record.encoded())
            #expect(back == record && back.hashValue == record.hashValue)
        }
        // A copy changed is another value; the original keeps its fields.
        var copy = correction
        copy.note = nil
        #expect(copy != correction && correction.note == "核实" && copy.steward == "王芳")
        // Cleared field by field, it is the record that never had a notice.
        var cleared = correction
        cleared.kind = .golden
        cleared.department = nil; cleared.attribute = nil; cleared.conflictId = nil; cleared.rejectedValue = nil
        cleared.rejectedEventId = nil; cleared.steward = nil; cleared.note = nil
        #expect(cleared == plain && cleared.hashValue == plain.hashValue)
        #expect(cleared.encoded() == plain.encoded())
    }
}
