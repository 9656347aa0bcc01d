import Testing
import YidangMatching
import YidangModel

@Suite struct MatchTrainingTests {
    static let settings = MatchingSettings(
        compare: ["name": .name, "birthDate": .date, "gender": .exact, "phone": .phone],
        block: [["name", "birthDate"], ["phone"]])

    /// A registry of `people` distinct persons, then `arriving` records that repeat the first
    /// of them (name, birth date, gender; every other one its phone too).
    static func city(people: Int, arriving: Int) -> [[String: [String]]] {
        let surnames = Array("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗").map(String.init)
        let given = Array("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华").map(String.init)
        var out: [[String: [String]]] = []
        for i in 0..<people {
            let name = surnames[i % surnames.count] + given[(i / surnames.count) % given.count] + given[(i / 7) % given.count]
            let date = "19\(50 + i % 50)-\(String(format: "%02d", 1 + i % 12))-\(String(format: "%02d", 1 + (i / 12) % 28))"
            out.append(["name": [name], "birthDate": [date], "gender": [i % 2 == 0 ? "1" : "2"], "phone": ["139\(String(format: "%08d", i))"]])
        }
        for i in 0..<arriving {
            var r = out[i]
            if i % 2 == 1 { r["phone"] = nil }
            out.append(r)
        }
        return out
    }

    /// The matcher scores only pairs with an arriving record (one without a national
    /// identifier): the prior is their share of matches, not the share among every pair of
    /// registry and records together, which shrinks with the registry.
    @Test func thePriorIsTheShareOfMatchesAmongThePairsTheMatcherScores() {
        let people = 3_000, arriving = 300
        let records = Self.city(people: people, arriving: arriving)
        var trainer = MatchTrainer(settings: Self.settings)
        trainer.randomPairs = 50_000
        let flags = (0..<records.count).map { $0 >= people }
        let scored = trainer.train(records, arriving: flags).model.prior
        let all = trainer.train(records).model.prior
        let a = Double(arriving), n = Double(records.count)
        let expectedScored = a / (a * (a - 1) / 2 + a * (n - a))
        let expectedAll = a / (n * (n - 1) / 2)
        #expect(scored > expectedScored / 2 && scored < expectedScored * 2, "\(scored) vs \(expectedScored)")
        #expect(all > expectedAll / 2 && all < expectedAll * 2, "\(all) vs \(expectedAll)")
        // No arriving record marked, or all of them: every pair, as before.
        #expect(trainer.train(records, arriving: [Bool](repeating: false, count: records.count)).model.prior == all)
    }
}
