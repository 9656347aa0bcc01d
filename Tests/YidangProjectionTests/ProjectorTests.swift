import JSON
import Testing
@testable import YidangModel
@testable import YidangProjection

let config = Configuration.default
let person = Subject(kind: .person, id: "11010519491231002X")

/// A tiny harness: positions events in arrival order and folds them.
struct Harness {
    var state = SubjectState(subject: person)
    var ledger = InMemoryConflictLedger()
    var position: UInt64 = 0
    var changes: [ChangeRecord] = []
    let projector = Projector(configuration: config)

    @discardableResult
    mutating func apply(_ source: String, _ hour: Int, _ body: EventBody, id: String? = nil, subject: Subject = person) throws -> ProjectionOutcome {
        position += 1
        var e = Event(id: id ?? "\(source)-\(position)", source: source, type: "person.updated", subject: subject,
                      time: Int64(hour) * 3_600_000_000, timeText: "", dataContentType: nil, data: .null, body: body)
        e.position = position
        e.ingestTime = 1_000_000_000 + Int64(position)
        let outcome = try projector.apply(e, to: &state, ledger: &ledger)
        ledger.store(outcome)
        changes += outcome.changes
        return outcome
    }
    mutating func assert(_ source: String, _ hour: Int, _ values: [String: String]) throws {
        try apply(source, hour, .assert(values.sorted { $0.key < $1.key }.map { Assertion(attribute: $0.key, value: $0.value) }))
    }
    mutating func decide(_ action: StewardDecision.Action, conflict: UInt64, value: String? = nil, source: String? = nil) throws {
        let c = ledger.conflicts[conflict]
        try apply("steward", 1000, .steward(StewardDecision(conflictId: conflict, attribute: c?.attribute ?? "", action: action,
                                                               value: value, rejectedSource: source, steward: "王芳", note: "n")))
    }
    func golden(_ a: String) -> GoldenValue? { state.golden(a) }
    var openConflicts: [Conflict] { ledger.conflicts.values.filter { $0.status == .open }.sorted { $0.id < $1.id } }
}

@Suite struct SurvivorshipTests {
    @Test func precedenceBeatsRecencyAndRecencyBreaksTies() throws {
        var h = Harness()
        try h.assert("zhujian", 5, ["residenceAddress": "B"])
        try h.assert("gongan", 9, ["residenceAddress": "A"])
        #expect(h.golden("residenceAddress")?.value == "B")      // zhujian outranks gongan
        #expect(h.golden("residenceAddress")?.source == "zhujian")
        try h.assert("gongan", 1, ["phone": "13800000001"])
        try h.assert("yibao", 3, ["phone": "13800000002"])
        try h.assert("renshe", 2, ["phone": "13800000003"])
        #expect(h.golden("phone")?.value == "13800000002")       // recency alone
        #expect(h.golden("phone")?.conflict == false)            // recency rules do not flag conflicts
        #expect(h.openConflicts.map(\.attribute) == ["residenceAddress"])
    }

    @Test func anOlderFactPublishedLaterDoesNotOverwriteANewerOne() throws {
        var h = Harness()
        try h.assert("gongan", 10, ["householdAddress": "新址"])
        let outcome = try h.apply("gongan", 5, .assert([Assertion(attribute: "householdAddress", value: "旧址")]))
        #expect(h.golden("householdAddress")?.value == "新址")
        #expect(outcome.changes.isEmpty)
        #expect(h.state.version == 1)
    }

    @Test func retractionLetsTheNextCandidateWin() throws {
        var h = Harness()
        try h.assert("zhujian", 1, ["residenceAddress": "B"])
        try h.assert("gongan", 1, ["residenceAddress": "A"])
        try h.apply("zhujian", 2, .retract(["residenceAddress"]))
        #expect(h.golden("residenceAddress")?.value == "A")
        #expect(h.openConflicts.isEmpty)                          // agreement again closes the conflict
        #expect(h.ledger.conflicts[1]?.resolution?.action == .agreed)
        // A retraction older than the statement it would withdraw is ignored.
        try h.apply("gongan", 0, .retract(["residenceAddress"]))
        #expect(h.golden("residenceAddress")?.value == "A")
    }
}

@Suite struct FoldPathTests {
    /// Events of distinct configured attributes take a path that records and recomputes each
    /// attribute in turn; any other event records all, then recomputes each. Both must agree.
    @Test func anAttributeTwiceOrUnconfiguredFoldsAsDistinctAttributesDo() throws {
        var distinct = Harness(), repeated = Harness(), unconfigured = Harness()
        let name = Assertion(attribute: "name", value: "张三"), phone = Assertion(attribute: "phone", value: "13800000001")
        let address = Assertion(attribute: "residenceAddress", value: "A")
        try distinct.apply("gongan", 1, .assert([name, phone, address]))
        try repeated.apply("gongan", 1, .assert([name, phone, address, Assertion(attribute: "name", value: "李四")]))
        try unconfigured.apply("gongan", 1, .assert([name, Assertion(attribute: "shoeSize", value: "42"), phone, address]))
        for other in [repeated, unconfigured] {
            #expect(other.golden("name")?.value == "张三")     // the first assertion of an attribute holds
            for attribute in ["name", "phone", "residenceAddress"] {
                #expect(other.state.attributes[attribute] == distinct.state.attributes[attribute])
            }
            #expect(other.changes.map(\.changes) == distinct.changes.map(\.changes))
            #expect(other.state.version == distinct.state.version)
        }
        // Recorded, never recomputed: an attribute without a rule has no golden value.
        #expect(unconfigured.state.attributes["shoeSize"]?.statements.count == 1)
        #expect(unconfigured.golden("shoeSize") == nil)
        // A disagreement opens the same conflict either way, with the same candidates.
        try distinct.apply("zhujian", 2, .assert([Assertion(attribute: "residenceAddress", value: "B"), name]))
        try repeated.apply("zhujian", 2, .assert([Assertion(attribute: "residenceAddress", value: "B"), name, name]))
        #expect(repeated.openConflicts == distinct.openConflicts)
        #expect(repeated.openConflicts.map(\.attribute) == ["residenceAddress"])
        #expect(repeated.state.attributes["residenceAddress"] == distinct.state.attributes["residenceAddress"])
    }
}

@Suite struct ConflictTests {
    @Test func openUpdateAndReopenAfterSettlement() throws {
        var h = Harness()
        try h.assert("gongan", 1, ["name": "张三"])
        try h.assert("renshe", 2, ["name": "张三"])
        #expect(h.openConflicts.isEmpty)
        try h.assert("renshe", 3, ["name": "张叁"])
        #expect(h.openConflicts.count == 1)
        let c = try #require(h.openConflicts.first)
        #expect(c.candidates.map(\.source) == ["gongan", "renshe"])
        #expect(c.winner == "张三")
        #expect(h.golden("name")?.value == "张三")
        #expect(h.golden("name")?.conflict == true)
        try h.decide(.accept, conflict: c.id)
        #expect(h.openConflicts.isEmpty)
        #expect(h.golden("name")?.conflict == false)
        // the same loser value again: already settled, no new conflict
        try h.assert("renshe", 4, ["name": "张叁"])
        #expect(h.openConflicts.isEmpty)
        // a new disagreeing value re-opens
        try h.assert("minzheng", 5, ["name": "章三"])
        #expect(h.openConflicts.count == 1)
        #expect(h.openConflicts.first?.id != c.id)
    }

    @Test func pinWinsAndRejectAsksForCorrection() throws {
        var h = Harness()
        try h.assert("gongan", 1, ["maritalStatus": "未婚"])
        try h.assert("minzheng", 2, ["maritalStatus": "已婚"])
        #expect(h.golden("maritalStatus")?.value == "已婚")
        try h.decide(.pin, conflict: 1, value: "离婚")
        #expect(h.golden("maritalStatus")?.value == "离婚")
        #expect(h.golden("maritalStatus")?.source == "steward")
        #expect(throws: EventRejection.self) { try h.decide(.accept, conflict: 1) }   // already resolved

        try h.assert("zhujian", 1, ["residenceAddress": "B"])
        try h.assert("gongan", 2, ["residenceAddress": "A"])
        let id = try #require(h.openConflicts.first?.id)
        #expect(throws: EventRejection.self) { try h.decide(.reject, conflict: id, source: "yibao") }
        try h.decide(.reject, conflict: id, source: "zhujian")
        #expect(h.golden("residenceAddress")?.value == "A")
        let notice = try #require(h.changes.last)
        #expect(notice.kind == .correction)
        #expect(notice.department == "zhujian")
        #expect(notice.rejectedValue == "B")
        // 整改: zhujian publishes the same wrong value again -> the conflict re-opens
        try h.assert("zhujian", 3, ["residenceAddress": "B"])
        #expect(h.openConflicts.count == 1)
        #expect(h.golden("residenceAddress")?.value == "B")
    }

    @Test func unknownConflictIsRefusedAndChangesNothing() throws {
        var h = Harness()
        try h.assert("gongan", 1, ["name": "张三"])
        let before = h.state
        #expect(throws: EventRejection.self) { try h.decide(.accept, conflict: 99) }
        #expect(h.state == before)
    }
}

@Suite struct PermutationTests {
    /// Department events about several attributes with distinct effective times.
    static func events() -> [(String, Int, EventBody)] {
        [
            ("gongan", 1, .assert([Assertion(attribute: "name", value: "张三"), Assertion(attribute: "householdAddress", value: "A")])),
            ("gongan", 7, .assert([Assertion(attribute: "householdAddress", value: "A2")])),
            ("renshe", 2, .assert([Assertion(attribute: "name", value: "张叁"), Assertion(attribute: "employer", value: "91310115MA1K3BTP2B")])),
            ("zhujian", 3, .assert([Assertion(attribute: "residenceAddress", value: "R1")])),
            ("gongan", 4, .assert([Assertion(attribute: "residenceAddress", value: "R2")])),
            ("zhujian", 8, .retract(["residenceAddress"])),
            ("yibao", 5, .assert([Assertion(attribute: "phone", value: "13800000001")])),
            ("minzheng", 6, .assert([Assertion(attribute: "phone", value: "13800000002"), Assertion(attribute: "maritalStatus", value: "已婚")])),
            ("gongan", 9, .assert([Assertion(attribute: "maritalStatus", value: "未婚")])),
            ("renshe", 10, .assert([Assertion(attribute: "name", value: "张三")])),
            ("jiaoyu", 11, .assert([Assertion(attribute: "education", value: "本科")])),
            ("renshe", 12, .assert([Assertion(attribute: "education", value: "大专")])),
        ]
    }

    static func fold(_ order: [Int]) throws -> ([String: String], Set<String>) {
        var h = Harness()
        let all = events()
        for i in order { try h.apply(all[i].0, all[i].1, all[i].2) }
        var golden: [String: String] = [:]
        for (k, v) in h.state.attributes { golden[k] = v.golden.map { "\($0.value)|\($0.source)|\($0.conflict)" } }
        let open = Set(h.openConflicts.map { "\($0.attribute):" + $0.candidates.map { "\($0.source)=\($0.value)" }.sorted().joined(separator: ",") })
        return (golden, open)
    }

    @Test func anyArrivalOrderGivesTheSameGoldenRecordAndConflicts() throws {
        let n = Self.events().count
        let reference = try Self.fold(Array(0..<n))
        #expect(reference.0["name"] == "张三|gongan|false")
        #expect(reference.0["residenceAddress"] == "R2|gongan|false")
        #expect(reference.0["maritalStatus"] == "已婚|minzheng|true")
        #expect(reference.1 == ["maritalStatus:gongan=未婚,minzheng=已婚", "education:jiaoyu=本科,renshe=大专"])
        var rng = SplitMix(seed: 20261123)
        for _ in 0..<300 {
            var order = Array(0..<n)
            for i in stride(from: n - 1, to: 0, by: -1) { order.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
            let result = try Self.fold(order)
            #expect(result.0 == reference.0, "order \(order)")
            #expect(result.1 == reference.1, "order \(order)")
        }
    }
}

struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E3779B97F4A7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9
        z = (z ^ (z >> 27)) &* 0x94D049BB133111EB
        return z ^ (z >> 31)
    }
}
