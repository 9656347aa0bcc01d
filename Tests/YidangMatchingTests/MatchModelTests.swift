import Testing
@testable import YidangModel
@testable import YidangMatching

@Suite struct StringSimilarityTests {
    @Test func jaroWinklerAndEditDistanceAgreeWithTheTextbook() {
        #expect(abs(StringSimilarity.jaroWinkler("MARTHA", "MARHTA") - 0.9611) < 0.001)
        #expect(abs(StringSimilarity.jaroWinkler("DWAYNE", "DUANE") - 0.84) < 0.001)
        #expect(StringSimilarity.jaroWinkler("", "") == 1 && StringSimilarity.jaroWinkler("a", "") == 0)
        #expect(StringSimilarity.editDistance("kitten", "sitting") == 3)
        #expect(StringSimilarity.editDistance("张三丰", "张三") == 1)
    }
}

@Suite struct ShortcutTests {
    /// Random short texts over a small alphabet, so that near pairs are common.
    static func texts(_ n: Int, seed: UInt64) -> [[Unicode.Scalar]] {
        var rng = SplitMix(seed: seed)
        let alphabet = Array("abcdeflmnrst 0123张三叁".unicodeScalars)
        return (0..<n).map { _ in (0..<Int(rng.next() % 9)).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] } }
    }

    @Test func theJaroWinklerBoundNeverTurnsAwayAPairThatReachesTheThreshold() {
        let texts = Self.texts(400, seed: 11)
        var turnedAway = 0
        for (i, s) in texts.enumerated() {
            for t in texts[(i + 1)...] {
                let jw = StringSimilarity.jaroWinkler(s, t)
                for threshold in [0.85, 0.92] {
                    let may = StringSimilarity.mayReach(threshold, s, StringSimilarity.characterSet(s), t, StringSimilarity.characterSet(t))
                    #expect(may || jw < threshold, "\(String(String.UnicodeScalarView(s))) / \(String(String.UnicodeScalarView(t))): \(jw)")
                    if !may { turnedAway += 1 }
                }
            }
        }
        #expect(turnedAway > 10_000)   // and it does turn most pairs away
    }

    @Test func aBoundedEditDistanceIsExactUpToItsBound() {
        let texts = Self.texts(200, seed: 12)
        for (i, s) in texts.enumerated() {
            for t in texts[(i + 1)...] {
                let full = StringSimilarity.editDistance(s, t, atMost: .max)
                for limit in 0...3 {
                    let bounded = StringSimilarity.editDistance(s, t, atMost: limit)
                    #expect(full <= limit ? bounded == full : bounded > limit)
                }
            }
        }
    }
}

@Suite struct ComparisonLevelTests {
    @Test func eachComparatorGradesAgreement() {
        #expect(Comparator.name.compare("张三", "張三").label == "exact")
        #expect(Comparator.name.compare("张三", "张叁").label == "same reading")
        #expect(Comparator.name.compare("katherine", "catherine").label == "similar")
        #expect(Comparator.name.compare("张三", "李四").label == "different")
        #expect(Comparator.date.compare("1980-03-04", "1980-04-03").label == "day and month swapped")
        #expect(Comparator.date.compare("1980-03-04", "1981-03-04").label == "one field off")
        #expect(Comparator.date.compare("1980-03-04", "1990-05-04").label == "different")
        #expect(Comparator.phone.compare("13800138000", "+8613800138000".replacingOccurrences(of: "+86", with: "")).label == "exact")
        #expect(Comparator.phone.compare("13800138000", "13900138000").label == "last 8 digits")
        #expect(Comparator.address.compare("浙江省宁波市海曙区中山西路1号", "宁波市海曙区中山西路1号").label == "most parts shared")
        #expect(Comparator.address.compare("浙江省宁波市海曙区中山西路1号", "北京市朝阳区建国路88号").label == "different")
        #expect(Comparator.number.compare("100", "105").label == "within 10 %")
        #expect(Comparator.exact.compare("1", "2").label == "different")
    }

    @Test func aRecordIsComparedByEveryValueItHolds() {
        #expect(Comparator.phone.compare(["13800138000"], ["13900139000", "13800138000"]).label == "exact")
        #expect(Comparator.phone.compare([], ["13800138000"]) == .missing)
    }
}

@Suite struct MatchModelTests {
    let model = MatchModel(settings: Configuration.default.matching(.person)!)

    @Test func agreementOnStrongEvidenceLinksAndDisagreementDoesNot() {
        let registry: [String: [String]] = ["name": ["张三"], "birthDate": ["1980-03-04"], "gender": ["1"], "phone": ["13800138000"],
                                            "residenceAddress": ["宁波市海曙区中山西路1号"]]
        let survey: [String: [String]] = ["name": ["张叁"], "birthDate": ["1980-03-04"], "gender": ["1"], "phone": ["13800138000"]]
        let same = model.score(registry, survey)
        #expect(same.probability >= 0.98)
        #expect(same.comparisons.first { $0.attribute == "residenceAddress" }?.level == .missing)
        // A namesake: same name, birth date and gender, another phone and address.
        let namesake: [String: [String]] = ["name": ["张三"], "birthDate": ["1980-03-04"], "gender": ["1"], "phone": ["13912345678"],
                                            "residenceAddress": ["北京市朝阳区建国路88号"]]
        #expect(model.score(registry, namesake).probability < model.score(registry, survey).probability)
        let stranger: [String: [String]] = ["name": ["李四"], "birthDate": ["1990-05-06"], "gender": ["2"]]
        #expect(model.score(registry, stranger).probability < 0.01)
    }

    @Test func aCommonValueWeighsLess() {
        let a: [String: [String]] = ["name": ["王伟"], "gender": ["1"]]
        let rare = model.score(a, a)
        let common = model.score(a, a) { attribute, _ in attribute == "name" ? 0.01 : nil }
        #expect(common.weight < rare.weight)
    }

    @Test func theMatchingConfigurationIsChecked() throws {
        let yaml = DefaultConfiguration.yaml
        #expect(throws: ConfigurationError.self) {
            try Configuration(yaml: yaml.replacingOccurrences(of: "compare: { name: name, birthDate: date", with: "compare: { shoeSize: exact, name: name, birthDate: date"))
        }
        #expect(throws: ConfigurationError.self) {
            try Configuration(yaml: yaml.replacingOccurrences(of: "block: [[name, birthDate], [phone], [name, residenceAddress]]", with: "block: [[ethnicity]]"))
        }
        #expect(throws: (any Error).self) {
            try Configuration(yaml: yaml.replacingOccurrences(of: "compare: { name: name, birthDate: date", with: "compare: { name: soundex, birthDate: date"))
        }
        #expect(throws: ConfigurationError.self) {
            try Configuration(yaml: yaml.replacingOccurrences(of: "    review: 0.70\n  enterprise:", with: "    review: 0.99\n  enterprise:"))
        }
        #expect(Configuration.default.matching(.enterprise)?.block == [["name"], ["phone"], ["legalRepresentative"]])
        // Comparison vectors are packed four bits an attribute: at most 16 compared.
        let many = (1...17).map { "f\($0)" }
        let wide = yaml
            .replacingOccurrences(of: "  person:\n    identifier: citizenId\n    attributes:\n",
                                  with: "  person:\n    identifier: citizenId\n    attributes:\n" + many.map { "      \($0): { type: text, sensitivity: L1, precedence: [] }\n" }.joined())
            .replacingOccurrences(of: "compare: { name: name, birthDate: date, gender: exact, phone: phone, residenceAddress: address }",
                                  with: "compare: { " + many.map { "\($0): text" }.joined(separator: ", ") + " }")
            .replacingOccurrences(of: "block: [[name, birthDate], [phone], [name, residenceAddress]]", with: "block: [[f1]]")
        #expect(throws: ConfigurationError.self) { try Configuration(yaml: wide) }
        #expect((try? Configuration(yaml: wide.replacingOccurrences(of: ", f17: text", with: ""))) != nil)
    }

    /// A date written day first gives the same blocking key as the date itself, so the
    /// combined key of name and birth date still finds its record.
    @Test func aDateBlocksWithItsMonthAndDayInEitherOrder() {
        let blocking = BlockingKeys(settings: Configuration.default.matching(.person)!)
        let a = blocking.keys(of: ["name": ["张三"], "birthDate": ["1988-04-09"]])
        #expect(!a.isEmpty)
        #expect(blocking.keys(of: ["name": ["张叁"], "birthDate": ["1988-09-04"]]) == a)
        #expect(blocking.keys(of: ["name": ["张三"], "birthDate": ["1988-04-10"]]) != a)
    }

    /// A rule of several attributes gives no key for a record without a value of one of
    /// them, and no value's part (a name's reading) is worked out for it; with every
    /// attribute held, each combination is a key.
    @Test func aRuleGivesNoKeyAndReadsNoPartWithoutEachOfItsAttributes() {
        let blocking = BlockingKeys(settings: Configuration.default.matching(.person)!)
        var parts = 0
        let values: [String: [String]] = ["name": ["张三"], "residenceAddress": []]
        let none = blocking.keys(["name", "birthDate"], values: { values[$0] ?? [] }, part: { parts += 1; return blocking.part($0, attribute: $1) })
        #expect(none.isEmpty)
        #expect(parts == 0)
        let both = blocking.keys(["name", "birthDate"], values: { ["name": ["张三", "张叁"], "birthDate": ["1988-04-09"]][$0] ?? [] },
                                 part: { parts += 1; return blocking.part($0, attribute: $1) })
        #expect(parts == 3)
        #expect(both == [blocking.part("张三", attribute: "name")! + "\u{1F}1988-04-09"])   // 张三 and 张叁 read alike
        // Several values of each attribute: every combination once, in order.
        let many = blocking.keys(["name", "birthDate"], parts: { ["name": ["wangwu", "lisi", "wangwu"], "birthDate": ["1990-01-02", "1988-04-09"]][$0] ?? [] })
        #expect(many == ["lisi\u{1F}1988-04-09", "lisi\u{1F}1990-01-02", "wangwu\u{1F}1988-04-09", "wangwu\u{1F}1990-01-02"])
    }
}
