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
}
