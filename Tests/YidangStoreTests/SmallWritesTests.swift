import Testing
@testable import YidangStore

@Suite struct SmallWritesTests {
    private func latest(_ small: SmallWrites) -> [([UInt8], [UInt8])] {
        var out: [([UInt8], [UInt8])] = []
        small.forEachLatest { k, v in out.append((Array(k), Array(v))) }
        return out
    }

    /// Each key's last write wins, a key whose last write is a delete is left out, and the
    /// keys come in memcmp order: also those whose first sixteen bytes tie, and a key before
    /// its own extensions.
    @Test func lastWritePerKeyInBytewiseOrder() {
        let prefix = Array("p110105194912310".utf8)     // sixteen bytes shared by the keys below
        let a = prefix + [0x32], b = prefix + [0x31, 0xFF], c = prefix, d: [UInt8] = [0x01], e: [UInt8] = []
        var small = SmallWrites()
        small.append(a, [1])
        small.append(b, [2])
        small.append(c, nil)             // a delete of a key never put
        small.append(d, [3])
        small.append(a, nil)             // a deleted…
        small.append(a, [4, 4])          // …and put again
        small.append(d, nil)             // deleted last: gone
        small.append(e, [5])
        small.append(b, [6])
        small.append(c, [])              // put after its delete, empty
        let got = latest(small)
        #expect(got.map(\.0) == [e, c, b, a])
        #expect(got.map(\.1) == [[5], [], [6], [4, 4]])
        #expect(small.count == 10)
    }

    /// Many keys in random order come out sorted as arrays sort them, once each.
    @Test func agreesWithSortingTheKeys() {
        var generator = SystemRandomNumberGenerator()
        var small = SmallWrites()
        var expected: [[UInt8]: [UInt8]?] = [:]
        for n in 0..<5_000 {
            let length = Int.random(in: 0...24, using: &generator)
            // Few distinct bytes, so that keys share long prefixes and repeat.
            let key = (0..<length).map { _ in UInt8.random(in: 0...2, using: &generator) }
            let value: [UInt8]? = n % 7 == 0 ? nil : [UInt8(n % 251)]
            small.append(key, value)
            expected[key] = value
        }
        let want = expected.compactMap { k, v in v.map { (k, $0) } }.sorted { $0.0.lexicographicallyPrecedes($1.0) }
        let got = latest(small)
        #expect(got.map(\.0) == want.map(\.0))
        #expect(got.map(\.1) == want.map(\.1))
    }
}
