import Testing
@testable import YidangStore

@Suite struct MembershipFilterTests {
    /// Everything inserted is reported (no false negatives), also after the filter has grown
    /// several times past its first capacity; what was never inserted is reported rarely.
    @Test func neverForgetsAndRarelyImagines() {
        var filter = MembershipFilter<ByteKey>(capacity: 1_000)
        let inserted = (0..<50_000).map { ByteKey(Array("gongan\u{0}id-\($0)".utf8)) }
        #expect(!filter.mayContain(inserted[0]))
        for k in inserted { filter.insert(k) }
        #expect(filter.count == 50_000)
        #expect(inserted.allSatisfy { filter.mayContain($0) })
        let others = (0..<50_000).map { ByteKey(Array("renshe\u{0}id-\($0)".utf8)) }
        let imagined = others.filter { filter.mayContain($0) }.count
        // About 1 % per filter, and a test asks each of the (here seven) filters.
        #expect(imagined < 50_000 * 5 / 100, "\(imagined) false positives")
    }
}
