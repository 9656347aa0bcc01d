import Testing
import YidangModel
@testable import YidangMatching

@Suite struct ComparableTextTests {
    @Test func foldingIgnoresWidthCaseSpacesAndTraditionalCharacters() {
        #expect(ComparableText.folded("張 三") == "张三")
        #expect(ComparableText.folded("ＪＯＨＮ  Smith") == "johnsmith")
        #expect(ComparableText.folded("买买提·艾力") == ComparableText.folded("买买提艾力"))
        #expect(ComparableText.folded("浙江省杭州市西湖區文三路１００號") == "浙江省杭州市西湖区文三路100号")
    }

    @Test func pinyinReadsSurnamesAsSurnames() {
        #expect(ComparableText.pinyin(ofFolded: "张三") == ComparableText.pinyin(ofFolded: "张叁"))
        #expect(ComparableText.pinyin(ofFolded: "曾国藩") == "zengguofan")
        #expect(ComparableText.pinyin(ofFolded: "单田芳").hasPrefix("shan"))
        #expect(ComparableText.pinyin(ofFolded: "尉迟恭").hasPrefix("yuchi"))
        #expect(ComparableText.pinyin(ofFolded: "李四") != ComparableText.pinyin(ofFolded: "张三"))
    }

    /// Every character of the CJK blocks reads as its frozen table entry (ASCII syllables,
    /// and the characters ICU has no reading for as themselves), simplifies as listed or to
    /// itself, and characters outside the blocks still go to ICU.
    @Test func theCJKBlocksReadAndSimplifyAsTheirFrozenTables() {
        var readings: [[UInt8]] = []
        CJKTables.forEachEntry(of: CJKTables.readings) { readings.append(Array($0)) }
        #expect(readings.count == CJKTables.range.count)
        var simplifications: [UInt32: [UInt8]] = [:]
        CJKTables.forEachEntry(of: CJKTables.simplifications) { entry in
            simplifications[String(decoding: entry, as: UTF8.self).unicodeScalars.first!.value] = Array(entry.dropFirst(3))
        }
        #expect(simplifications.count > 2_000)
        var wrong: [String] = []
        for v in CJKTables.range {
            let scalar = Unicode.Scalar(v)!
            var read: [UInt8] = [], simple: [UInt8] = []
            ComparableText.reading.withAppender { $0(scalar, &read) }
            ComparableText.simplified.withAppender { $0(scalar, &simple) }
            if read != readings[Int(v - CJKTables.range.lowerBound)] { wrong.append("reading of U+\(String(v, radix: 16))") }
            if simple != simplifications[v] ?? Array(String(scalar).utf8) { wrong.append("simplified U+\(String(v, radix: 16))") }
        }
        #expect(wrong.isEmpty, "\(wrong.prefix(10))")
        #expect(ComparableText.pinyin(ofFolded: "张伟") == "zhangwei")
        #expect(ComparableText.pinyin(ofFolded: "\u{3400}\u{9FA5}") == "qiuyu")     // the blocks' first character, and 龥
        #expect(ComparableText.folded("龍門國") == "龙门国")
        #expect(ComparableText.pinyin(ofFolded: "josé") == "jose")     // outside the blocks: Latin-ASCII, through ICU
    }

    /// An address's parts below the city, each closed by its suffix (单元 as one), whatever
    /// the width of the characters in it; text after the last part is a part of its own, and
    /// text that nothing closes has none.
    @Test func anAddressSplitsIntoItsPartsBelowTheCity() {
        #expect(ComparableText.addressParts("浙江省宁波市海曙区中山西路1号3幢2单元501室附近")
                == ["海曙区", "中山西路", "1号", "3幢", "2单元", "501室", "附近"])
        #expect(ComparableText.addressParts("海曙区宁波市") == ["海曙区", "宁波市"])     // a city after a part is a part
        #expect(ComparableText.addressParts("宁波市单元路") == ["单元", "路"])
        #expect(ComparableText.addressParts("\u{20000}é路5号") == ["\u{20000}é路", "5号"])   // four and two bytes of UTF-8
        #expect(ComparableText.addressParts("某某大厦").isEmpty)
        #expect(ComparableText.addressParts("").isEmpty)
    }

    /// An address's blocking key is its parts joined, or the whole text when it has none,
    /// found without listing the parts: the same for the cases above and for texts drawn from
    /// the characters that decide where parts end.
    @Test func anAddressKeyIsItsPartsJoined() {
        func joined(_ text: String) -> String {
            let parts = ComparableText.addressParts(text)
            return parts.isEmpty ? text : parts.joined()
        }
        var texts = ["浙江省宁波市海曙区中山西路1号3幢2单元501室附近", "海曙区宁波市", "宁波市单元路", "\u{20000}é路5号",
                     "某某大厦", "", "浙江省宁波市", "宁波市海曙区", "市", "单元", "元单"]
        let alphabet: [Character] = ["省", "市", "区", "路", "号", "单", "元", "室", "宁", "波", "1", "a", "é", "\u{20000}"]
        var seed: UInt64 = 42
        for n in 0..<3_000 {
            texts.append(String((0..<(n % 13)).map { _ in
                seed = seed &* 6364136223846793005 &+ 1442695040888963407
                return alphabet[Int(seed >> 33) % alphabet.count]
            }))
        }
        for text in texts { #expect(ComparableText.addressKey(text) == joined(text), "\(text)") }
        #expect(ComparableText.addressKey("浙江省宁波市海曙区中山西路1号") == "海曙区中山西路1号")
    }

    /// A phone's part of a key is its last eight characters: cut by bytes when every byte is
    /// ASCII, by characters otherwise (full-width digits; a carriage return joins a line feed).
    @Test func aPhoneKeyIsItsLastEightCharacters() {
        #expect(BlockingKeys.lastEight("13268290466") == "68290466")
        #expect(BlockingKeys.lastEight("68290466") == "68290466")
        #expect(BlockingKeys.lastEight("8290466") == nil)
        #expect(BlockingKeys.lastEight("") == nil)
        #expect(BlockingKeys.lastEight("１３２６８２９０４６６") == "６８２９０４６６")
        #expect(BlockingKeys.lastEight("234567\r\n") == nil)             // eight bytes, seven characters
        #expect(BlockingKeys.lastEight("01234567\r\n") == "1234567\r\n")
    }

    @Test func bigramDiceMeasuresSharedParts() {
        #expect(ComparableText.bigramDice("文三路100号", "文三路100号") == 1)
        #expect(ComparableText.bigramDice("文三路100号", "解放路1号") < 0.4)
        #expect(ComparableText.bigramDice("浙江省杭州市西湖区文三路100号", "浙江省杭州市西湖区文三路101号") >= 0.8)
    }
}

@Suite struct ClaimComparisonTests {
    let held = HeldValues(golden: "张三", asserted: ["张三", "張珊"])

    @Test func namesMatchAcrossWritingsAndAreCloseWhenReadAlike() {
        #expect(Comparator.name.verify(claim: "張三", against: held) == .match)
        #expect(Comparator.name.verify(claim: "张 三", against: held) == .match)
        #expect(Comparator.name.verify(claim: "张叁", against: held) == .partial)     // a homophone
        #expect(Comparator.name.verify(claim: "张珊", against: held) == .partial)     // another department's form
        #expect(Comparator.name.verify(claim: "李四", against: held) == .mismatch)
        #expect(Comparator.name.verify(claim: "张三", against: HeldValues(golden: nil, asserted: [])) == .unknown)
    }

    @Test func addressesArePartialWhenMostPartsAgree() {
        let home = HeldValues(golden: "浙江省杭州市西湖区文三路100号", asserted: ["浙江省杭州市上城区解放路1号"])
        #expect(Comparator.address.verify(claim: "浙江省杭州市西湖區文三路100號", against: home) == .match)
        #expect(Comparator.address.verify(claim: "杭州市西湖区文三路100号", against: home) == .partial)
        #expect(Comparator.address.verify(claim: "浙江省杭州市上城区解放路1号", against: home) == .partial)
        #expect(Comparator.address.verify(claim: "浙江省", against: home) == .mismatch)
        #expect(Comparator.address.verify(claim: "北京市朝阳区建国路88号", against: home) == .mismatch)
    }

    @Test func exactComparatorsKnowNoNearness() {
        let phone = HeldValues(golden: "13800138000", asserted: ["13800138000", "13900139000"])
        #expect(Comparator.phone.verify(claim: "13800138000", against: phone) == .match)
        #expect(Comparator.phone.verify(claim: "13900139000", against: phone) == .partial)
        #expect(Comparator.phone.verify(claim: "13800138001", against: phone) == .mismatch)
        #expect(Comparator.date.verify(claim: "1949-12-30", against: HeldValues(golden: "1949-12-31", asserted: [])) == .mismatch)
    }

    @Test func attributesImplyTheirComparator() {
        let config = Configuration.default
        #expect(Comparator.implied(attribute: "name", rule: config.rule(.person, "name")!) == .name)
        #expect(Comparator.implied(attribute: "residenceAddress", rule: config.rule(.person, "residenceAddress")!) == .address)
        #expect(Comparator.implied(attribute: "birthDate", rule: config.rule(.person, "birthDate")!) == .date)
        #expect(Comparator.implied(attribute: "phone", rule: config.rule(.person, "phone")!) == .phone)
        #expect(Comparator.implied(attribute: "gender", rule: config.rule(.person, "gender")!) == .exact)
        #expect(Comparator.implied(attribute: "registeredCapital", rule: config.rule(.enterprise, "registeredCapital")!) == .number)
    }
}
