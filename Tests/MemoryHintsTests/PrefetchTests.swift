import Testing
import MemoryHints

/// The hints read arrays and their fields as Swift lays them out, without retaining them.
/// These pin that layout to the toolchain's: were it to change, the hints would fetch the
/// wrong lines (or read past an array's storage), and these fail first.
@Suite struct PrefetchTests {
    struct Record {
        var number: Int
        var values: [Int]
        var names: [String]
    }

    @Test func anArrayFieldIsReadAsItsStorageWithItsCountAndElements() {
        let records = [Record(number: 1, values: [10, 20, 30], names: ["甲"]),
                       Record(number: 2, values: [], names: ["乙", "丙"]),
                       Record(number: 3, values: Array(0..<100), names: [])]
        for (i, record) in records.enumerated() {
            let offset = MemoryLayout<Record>.offset(of: \.values)!
            let bits = Prefetch.referenceBits(at: i, of: records, offset: offset)!
            #expect(Prefetch.arrayCount(bits: bits) == record.values.count)
            record.values.withUnsafeBufferPointer { buffer in
                if let base = buffer.baseAddress {
                    #expect(Prefetch.arrayElements(bits: bits) == UnsafeRawPointer(base))
                }
            }
        }
        #expect(Prefetch.referenceBits(at: 3, of: records, offset: 0) == nil)
        #expect(Prefetch.referenceBits(at: -1, of: records, offset: 0) == nil)
    }

    @Test func anArrayOfRecordsIsWalkedToEachRecordsArray() {
        let records = (0..<40).map { Record(number: $0, values: Array(0..<$0), names: []) }
        // The outer array's storage, as a record's field would hold it.
        struct Holder { var records: [Record] }
        let holders = [Holder(records: records)]
        let bits = Prefetch.referenceBits(at: 0, of: holders, offset: MemoryLayout<Holder>.offset(of: \.records)!)!
        #expect(Prefetch.arrayCount(bits: bits) == 40)
        let elements = Prefetch.arrayElements(bits: bits)!
        let offset = MemoryLayout<Record>.offset(of: \.values)!
        for i in records.indices {
            let inner = elements.load(fromByteOffset: i * MemoryLayout<Record>.stride + offset, as: UInt.self)
            #expect(Prefetch.arrayCount(bits: inner) == i)
        }
        // Hints change nothing, whatever they are asked for.
        Prefetch.arrayStorages(inArrayAt: bits, of: Record.self, offset: offset, lines: 2)
        Prefetch.object(bits: 0, lines: 1)
        Prefetch.element(100, of: records, lines: 2)
        #expect(holders[0].records.map(\.values.count) == Array(0..<40))
    }

    @Test func aStringsStorageIsFoundFromItsSecondWordAndAnInlineStringHasNone() {
        let long = String(repeating: "宁波市四明中路", count: 3) + "596号"
        let ascii = "gongan-snap-1234567"
        for text in [long, ascii] {
            var text = text
            let address = Prefetch.storageAddress(of: text)
            text.withUTF8 { bytes in
                // A native string's bytes follow its storage's 32-byte header.
                #expect(address.map { $0 + 32 } == UInt(bitPattern: bytes.baseAddress))
            }
        }
        #expect(Prefetch.storageAddress(of: "赵芳文") == nil)
        #expect(Prefetch.storageAddress(of: "1971-01-28") == nil)
    }

    struct Statement {
        var source: String
        var eventId: String
        var position: UInt64
        var value: String?
    }

    @Test func theStringsOfEachElementAreFoundByTheirStorage() {
        let statements = [Statement(source: "gongan", eventId: "gongan-snap-0000000001", position: 1, value: "宁波市四明中路596号"),
                          Statement(source: "renshe", eventId: "r-1", position: 2, value: "已婚"),
                          Statement(source: "yibao", eventId: "yibao-snapshot-2026-000042", position: 3, value: nil)]
        struct Holder { var statements: [Statement] }
        let holders = [Holder(statements: statements)]
        let bits = Prefetch.referenceBits(at: 0, of: holders, offset: MemoryLayout<Holder>.offset(of: \.statements)!)!
        let offsets = (MemoryLayout<Statement>.offset(of: \.eventId)!, MemoryLayout<Statement>.offset(of: \.value)!)
        var found: [UInt?] = []
        Prefetch.forEachStringWord(inArrayAt: bits, of: Statement.self, offsets: offsets) { found.append(Prefetch.stringStorage(objectWord: $0)) }
        #expect(found.count == 6)
        #expect(found[0] != nil && found[0] == Prefetch.storageAddress(of: statements[0].eventId))
        #expect(found[1] != nil && found[1] == Prefetch.storageAddress(of: statements[0].value!))
        #expect(found[2] == nil && found[3] == nil)   // held inline
        #expect(found[4] != nil && found[4] == Prefetch.storageAddress(of: statements[2].eventId))
        // Hinting them changes nothing (a nil value's word included).
        Prefetch.strings(inArrayAt: bits, of: Statement.self, offsets: offsets)
        #expect(holders[0].statements.map(\.value) == ["宁波市四明中路596号", "已婚", nil])
    }
}
