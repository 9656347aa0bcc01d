import Testing
import YidangMatching
import YidangModel
@testable import YidangProjection
@testable import YidangStore

/// The blocking entries the writer stores must be exactly those the matcher looks up: the
/// keys of ``BlockingKeys/keys(_:values:part:)`` under each rule a new value is in.
@Suite struct BlockingEntriesTests {
    let blocking = BlockingKeys(settings: Configuration.default.matching(.person)!)
    let person = Subject(kind: .person, id: "11010519491231002X")

    /// What the entries held before their keys had a path of their own: each rule through the
    /// general combination, each part through the attribute's name.
    func reference(_ values: [Assertion], _ held: [(attribute: String, values: [String])]) -> [String] {
        var keys: [String] = []
        for rule in blocking.settings.block where values.contains(where: { rule.contains($0.attribute) }) {
            let ruleKeys = rule.count == 1
                ? values.compactMap { $0.attribute == rule[0] ? blocking.part($0.value, attribute: rule[0]) : nil }
                : blocking.keys(rule, values: { a in held.first { $0.attribute == a }?.values ?? [] },
                                part: { blocking.part($0, attribute: $1) })
            for k in ruleKeys where !keys.contains(k) { keys.append(k) }
        }
        return keys
    }

    @Test func keysAreThoseOfEveryRuleThroughTheGeneralPath() {
        let names = ["张三", "張三", "张叁", "曾国藩", "Li Lei", "", "·", "欧阳娜娜"]
        let dates = ["1988-04-09", "1988-09-04", "1988-04-04", "1988/04/09", "19880409", ""]
        let addresses = ["宁波市天童南路599号27室", "浙江省宁波市海曙区中山东路613号", "中山东路", ""]
        let phones = ["13739695608", "1373969", "12345678", "１３７３９６９５６０８", "1373969\r\n5608", "+86 137-3969-5608", ""]
        var checked = 0, withKeys = 0
        for (n, name) in names.enumerated() {
            for (d, date) in dates.enumerated() {
                for (a, address) in addresses.enumerated() {
                    let phone = phones[(n + d + a) % phones.count]
                    // The record's held values: none, one or two of each attribute.
                    let heldNames = [[], [name], [name, names[(n + 1) % names.count]], [name, name]][(n + a) % 4]
                    let heldDates = [[date], [], [date, dates[(d + 1) % dates.count]]][(d + a) % 3]
                    let heldAddresses = [[address], [address, addresses[(a + 2) % addresses.count]], []][(a + n) % 3]
                    let held: [(attribute: String, values: [String])] = [("name", heldNames), ("birthDate", heldDates),
                                                                          ("residenceAddress", heldAddresses)]
                    let newValues = [
                        [Assertion(attribute: "name", value: name)],
                        [Assertion(attribute: "birthDate", value: date), Assertion(attribute: "phone", value: phone)],
                        [Assertion(attribute: "residenceAddress", value: address), Assertion(attribute: "name", value: name)],
                        [Assertion(attribute: "phone", value: phone), Assertion(attribute: "phone", value: phones[(n + 1) % phones.count])],
                        [Assertion(attribute: "gender", value: "1")],
                    ][(n + d + a) % 5]
                    let entries = BlockingEntries(subject: person, values: newValues, held: held)
                    let expected = reference(newValues, held)
                    #expect(entries.keys(using: blocking) == expected, "values \(newValues), held \(held)")
                    var seen: [[UInt8]] = []
                    entries.forEachEntry(using: blocking) { seen.append($0) }
                    var prefixed = entries
                    prefixed.computePrefixes(using: blocking)
                    var seenPrefixed: [[UInt8]] = []
                    prefixed.forEachEntry(using: blocking) { seenPrefixed.append($0) }
                    let id = person.withIDBytes { Array($0) }
                    let expectedEntries = expected.map { Keys.blockPrefix(.person, $0) + id }
                    #expect(seen == expectedEntries)
                    #expect(seenPrefixed == expectedEntries)
                    checked += 1
                    if !expected.isEmpty { withKeys += 1 }
                }
            }
        }
        // Enough of the cases give keys (and enough give none) for the comparison to mean something.
        #expect(checked == names.count * dates.count * addresses.count)
        #expect(withKeys > checked / 3 && withKeys < checked)
    }

    /// The values new to a record are those of its blocking attributes it holds no
    /// statement of, whether the event names the attributes by the configuration's own
    /// strings (found by identity) or by strings of its own (found by their bytes).
    @Test func newBlockValuesAreFoundHoweverTheAttributesAreSpelled() throws {
        let configuration = Configuration.default
        let ledger = IdentityLedger(configuration: configuration, store: .none) { _ in nil }
        let configured = configuration.entity(.person).map { Array($0.attributes.keys) } ?? []
        func own(_ name: String) -> String { String(decoding: Array(name.utf8), as: UTF8.self) }   // storage of its own
        func event(_ values: [(String, String)]) -> Event {
            Event(id: "e", source: "gongan", type: "person.updated", subject: person, time: 0, timeText: "", dataContentType: nil,
                  data: .null, body: .assert(values.map { Assertion(attribute: $0.0, value: $0.1) }))
        }
        var state = SubjectState(subject: person)
        state.attributes.modify(configured.first { $0 == "name" }!) {
            $0.statements.append(Statement(source: "gongan", eventId: "e0", position: 1, time: 0, value: "张三"))
        }
        let values = [("name", "张三"), ("name", "李四"), ("gender", "1"), ("residenceAddress", "宁波市海曙区中山东路613号"),
                      ("phone", "13739695608"), ("birthDate", "1949-12-31")]
        let expected = [("name", "李四"), ("residenceAddress", "宁波市海曙区中山东路613号"), ("phone", "13739695608"), ("birthDate", "1949-12-31")]
        for spelling in [{ (n: String) in configured.first { $0 == n } ?? n }, own] {
            let found = ledger.newBlockValues(of: event(values.map { (spelling($0.0), $0.1) }), in: state)
            #expect(found.map(\.attribute) == expected.map(\.0))
            #expect(found.map(\.value) == expected.map(\.1))
        }
    }

    /// A phone's part is its last eight characters, cut by bytes only where bytes are characters.
    @Test func aPhonesPartIsItsLastEightCharacters() {
        for value in ["13739695608", "12345678", "1234567", "", "１３７３９６９５６０８", "1373969\r\n5608", "a\r\nbcdefgh",
                      "\r\n1234567", "+86 137-3969-5608", "电话13739695608", "1234567é"] {
            let expected = value.count >= 8 ? String(value.suffix(8)) : nil
            #expect(BlockingKeys.part(value, comparator: .phone) == expected, "\(value.debugDescription)")
        }
    }

    /// A date's part puts month and day in order when the day is the smaller; anything not
    /// shaped like a date is its own part.
    @Test func aDatesPartIsOrderFree() {
        func reference(_ date: String) -> String {
            let u = Array(date.utf8)
            guard u.count == 10, u[4] == UInt8(ascii: "-"), u[7] == UInt8(ascii: "-"),
                  (u[8], u[9]) < (u[5], u[6]) else { return date }
            return String(decoding: u[0..<5] + u[8..<10] + [UInt8(ascii: "-")] + u[5..<7], as: UTF8.self)
        }
        for date in ["1988-04-09", "1988-09-04", "1988-04-04", "1988-12-01", "1988-01-12", "1988/09/04", "1988-9-4",
                     "19880904", "", "二〇〇〇-09-04", "1988-09-04T00", "1988-0é-04"] {
            #expect(BlockingKeys.part(date, comparator: .date) == reference(date), "\(date)")
        }
        #expect(BlockingKeys.part("1988-09-04", comparator: .date) == "1988-04-09")
    }
}
