import Testing
import JSON
import YidangModel
@testable import YidangProjection

/// The stored golden record: format 2 refers to the winning statement or the pin instead of
/// repeating the value, and format 1 records (stores written before) still read the same.
@Suite struct GoldenRecordFormatTests {
    func statement(_ source: String, _ value: String?, at position: UInt64) -> Statement {
        Statement(source: source, eventId: "\(source)-\(position)", position: position, time: Int64(position) * 1_000, value: value)
    }

    /// Every way an attribute holds its golden value: a statement's (not the first), the
    /// pin's, one matching neither, and none.
    func state() -> SubjectState {
        var s = SubjectState(subject: Subject(kind: .person, id: "11010519491231002X"))
        s.version = 7; s.eventCount = 9; s.lastPosition = 40
        var name = AttributeState()
        name.record(statement("gongan", "张三", at: 3))
        name.record(statement("minzheng", "张叁", at: 5))
        name.golden = GoldenValue(value: "张叁", source: "minzheng", eventId: "minzheng-5", position: 5, time: 5_000, conflict: true)
        name.openConflict = 4; name.lastConflict = 4
        s.attributes["name"] = name
        var phone = AttributeState()
        phone.record(statement("yibao", "13800000000", at: 6))
        phone.pin = Pin(value: "13900000000", eventId: "steward-8", position: 8, time: 8_000, steward: "李四")
        phone.golden = GoldenValue(value: "13900000000", source: Configuration.stewardSource, eventId: "steward-8", position: 8,
                                   time: 8_000, conflict: false)
        phone.settledValues = ["13800000000", "13900000000"]
        s.attributes["phone"] = phone
        var address = AttributeState()
        address.record(statement("zhujian", "北京路 2 号", at: 12))
        address.golden = GoldenValue(value: "北京路 1 号", source: "zhujian", eventId: "zhujian-10", position: 10, time: 10_000, conflict: false)
        s.attributes["address"] = address
        var retracted = AttributeState()
        retracted.record(statement("renshe", nil, at: 14))
        s.attributes["employer"] = retracted
        return s
    }

    @Test func formatTwoReadsBackEveryKindOfGoldenValue() throws {
        let s = state()
        let bytes = s.encoded()
        #expect(bytes.first == 2)
        #expect(try SubjectState(encoded: bytes) == s)
    }

    @Test func formatOneRecordsReadTheSameAndAreLarger() throws {
        let s = state()
        let old = s.encoded(format: 1)
        #expect(old.first == 1)
        #expect(try SubjectState(encoded: old) == s)
        // Two of the four golden values are references in format 2.
        #expect(s.encoded().count < old.count - 2 * "张叁".utf8.count)
    }

    @Test func aReferenceToNothingIsRefused() throws {
        var s = SubjectState(subject: Subject(kind: .person, id: "11010519491231002X"))
        var name = AttributeState()
        name.record(statement("gongan", "张三", at: 3))
        name.golden = GoldenValue(value: "张三", source: "gongan", eventId: "gongan-3", position: 3, time: 3_000, conflict: false)
        s.attributes["name"] = name
        var bytes = s.encoded()
        // The golden reference is the statement index byte just before the conflict flag and
        // the three trailing fields (no open conflict, no last conflict, no settled values).
        let index = bytes.count - 5
        #expect(bytes[index] == 0)
        bytes[index] = 1
        #expect(throws: BinaryDecodingError.self) { try SubjectState(encoded: bytes) }
        // A pin reference without a pin.
        bytes[index - 1] = 3
        bytes.remove(at: index)
        #expect(throws: BinaryDecodingError.self) { try SubjectState(encoded: bytes) }
    }

    @Test func anUnknownFormatIsRefused() {
        var bytes = state().encoded()
        bytes[0] = 3
        #expect(throws: BinaryDecodingError.self) { try SubjectState(encoded: bytes) }
    }
}
