#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import Synchronization
import YidangModel

/// Learns a ``MatchModel`` from records without labels, as Splink does: u (how often
/// non-matches agree at each level) from pairs of records drawn at random, which are nearly
/// all non-matches; m (how often matches do) by expectation–maximisation over the blocked
/// pairs, with u held; and the prior, the probability that a pair the matcher scores (one
/// with a record arriving without a national identifier) is one entity, from the share of
/// blocked pairs EM finds to be matches.
public struct MatchTrainer: Sendable {
    public let settings: MatchingSettings
    /// Random pairs drawn for u; EM rounds; the largest block whose pairs are used.
    public var randomPairs = 200_000
    public var rounds = 25
    public var maxBlock = 200
    /// The most pairs a blocking rule contributes to its EM session (more are sampled).
    public var maxPairs = 1_000_000
    public var seed: UInt64 = 42

    public init(settings: MatchingSettings) { self.settings = settings }

    /// What training found, beside the model.
    public struct Report: Sendable {
        public var records: Int
        public var blockedPairs: Int
        public var randomPairs: Int
        /// EM's estimate of the blocked pairs that are matches.
        public var matchesAmongBlocked: Double
        public var model: MatchModel
    }

    /// Trains on `records` (attribute → every value a record holds).
    /// - Parameter arriving: by record, whether it is one the matcher will place (a record
    ///   without a national identifier) rather than one it is compared against (a registry's);
    ///   nil when all are. The matcher scores only pairs with an arriving record, so the prior
    ///   is their share of matches: among all pairs of a registry of 10⁶ and 20,000 arriving
    ///   records it is 27 times smaller, and every match of name, birth date and gender alone
    ///   fell below `link`.
    public func train(_ records: [[String: [String]]], arriving: [Bool]? = nil) -> Report {
        // Each record's values read once (folded, read aloud, split into parts), not once per pair.
        let defaults = MatchModel(settings: settings)
        let scorer = MatchScorer(model: defaults)
        let attributes = scorer.attributes
        let comparators = scorer.comparators
        let levels = comparators.map { $0.levels.count }
        let prepared = records.map(scorer.prepare)
        // u: agreement among random pairs, drawn in a fixed number of seeded shares counted in
        // parallel (the same pairs whatever the cores).
        let shares = 4
        let counted = Mutex([[[Double]]](repeating: levels.map { [Double](repeating: 0, count: $0) }, count: shares))
        let drawnPerShare = Mutex([Int](repeating: 0, count: shares))
        if records.count > 1 {
            DispatchQueue.concurrentPerform(iterations: shares) { share in
                var rng = SplitMix(seed: seed &+ UInt64(share))
                var counts = levels.map { [Double](repeating: 0, count: $0) }
                var ranks: [Int] = []
                ranks.reserveCapacity(attributes.count)
                var drawn = 0
                for _ in 0..<(randomPairs / shares) {
                    let a = Int(rng.next() % UInt64(records.count)), b = Int(rng.next() % UInt64(records.count))
                    if a == b { continue }
                    drawn += 1
                    scorer.ranks(prepared[a], prepared[b], into: &ranks)
                    for (i, l) in ranks.enumerated() where l >= 0 { counts[i][l] += 1 }
                }
                counted.withLock { $0[share] = counts }
                drawnPerShare.withLock { $0[share] = drawn }
            }
        }
        var uCounts = levels.map { [Double](repeating: 1, count: $0) }   // add-one smoothing
        for counts in counted.withLock({ $0 }) {
            for i in counts.indices { for l in counts[i].indices { uCounts[i][l] += counts[i][l] } }
        }
        let drawn = drawnPerShare.withLock { $0.reduce(0, +) }
        let u = uCounts.map { c in c.map { $0 / c.reduce(0, +) } }
        // Pairs sharing a key of each blocking rule; EM per rule, as Splink trains a session
        // per blocking rule: a rule's own attributes agree in every pair it blocks, so they
        // say nothing there and are left out of that session.
        let blocking = BlockingKeys(settings: settings)
        var mSum = levels.map { [Double](repeating: 0, count: $0) }
        var sessions = [Int](repeating: 0, count: attributes.count)
        // Each rule's pairs and their comparison vectors (packed, ``MatchScorer/code(_:_:)``),
        // rules in parallel. A rule admitting more than `maxPairs` pairs (a birth date in a
        // city of millions) is sampled: each pair kept with the same seeded chance, blocks
        // in key order, so that the sample is the same every time.
        let rules = settings.block
        let found = Mutex([(pairs: [(pair: UInt64, code: UInt64)], kept: Double)](repeating: ([], 1), count: rules.count))
        DispatchQueue.concurrentPerform(iterations: rules.count) { r in
            var blocks: [String: [Int]] = [:]
            for n in records.indices {
                for key in Set(scorer.blockingKeys(prepared[n], rule: rules[r], blocking)) {
                    blocks[key, default: []].append(n)
                }
            }
            let usable = blocks.filter { $0.value.count > 1 && $0.value.count <= maxBlock }
            let total = usable.values.reduce(0.0) { $0 + Double($1.count * ($1.count - 1) / 2) }
            let kept = total > Double(maxPairs) ? Double(maxPairs) / total : 1
            var rng = SplitMix(seed: seed &+ 1000 &+ UInt64(r))
            var pairs: [(pair: UInt64, code: UInt64)] = []
            var ruleSeen = Set<UInt64>()
            let order = kept < 1 ? usable.keys.sorted() : Array(usable.keys)
            for key in order {
                let members = usable[key]!
                for i in members.indices {
                    for j in members.index(after: i)..<members.endIndex {
                        if kept < 1 && Double(rng.next() >> 11) * 0x1p-53 >= kept { continue }
                        let a = UInt64(min(members[i], members[j])), b = UInt64(max(members[i], members[j]))
                        guard ruleSeen.insert(a << 32 | b).inserted else { continue }
                        pairs.append((a << 32 | b, scorer.code(prepared[Int(a)], prepared[Int(b)])))
                    }
                }
            }
            found.withLock { $0[r] = (pairs, kept) }
        }
        let pairsByRule = found.withLock { $0 }
        // Distinct vectors over all rules (a pair counted once, by the first rule holding it),
        // each pair standing for the pairs its rule's sampling left out.
        var all: [UInt64: Double] = [:]
        var scored: [UInt64: Double] = [:]   // pairs with an arriving record: those the matcher scores
        let placed = arriving.flatMap { a in a.contains(true) && a.count == records.count ? a : nil }
        var seen = Set<UInt64>()
        for (r, rule) in rules.enumerated() {
            var counts: [UInt64: Int] = [:]
            for (pair, code) in pairsByRule[r].pairs {
                counts[code, default: 0] += 1
                guard seen.insert(pair).inserted else { continue }
                all[code, default: 0] += 1 / pairsByRule[r].kept
                if let placed, placed[Int(pair >> 32)] || placed[Int(pair & 0xFFFF_FFFF)] {
                    scored[code, default: 0] += 1 / pairsByRule[r].kept
                }
            }
            // In a fixed order, so that training the same records gives the same weights.
            let vectors = counts.sorted { $0.key < $1.key }.map { (scorer.ranks(decoding: $0.key), $0.value) }
            let used = attributes.indices.filter { !rule.contains(attributes[$0]) }
            let m = em(vectors, used: used, start: attributes.map { defaults.attributes[$0]!.m }, u: u, levels: levels)
            for i in used {
                for l in 1..<levels[i] { mSum[i][l] += m[i][l] }
                // A disagreement is as rare among matches as the session that saw it least
                // often says: a rule that admits lookalikes (namesakes share name and birth
                // date) lets EM count them as matches and overstate how often matches disagree.
                mSum[i][0] = sessions[i] == 0 ? m[i][0] : min(mSum[i][0], m[i][0])
                sessions[i] += 1
            }
        }
        let m = attributes.indices.map { i -> [Double] in
            guard sessions[i] > 0 else { return defaults.attributes[attributes[i]]!.m }
            // Averaged over the sessions, kept off zero (a typo must not rule a pair out), summing to one.
            let raw = mSum[i].indices.map { l in max(l == 0 ? mSum[i][0] : mSum[i][l] / Double(sessions[i]), 1e-3) }
            let total = raw.reduce(0, +)
            return raw.map { $0 / total }
        }
        // The prior: the expected matches among the blocked pairs the matcher would score
        // under the trained weights, over all such pairs. It weighs each pair, so it is a
        // fixed point; a higher prior counts ambiguous pairs (namesakes who differ in phone
        // and address) as matches and grows on them, so there can be several. The least one
        // is taken, approached from below (one match among all pairs) until it settles:
        // ambiguous pairs do not vouch for themselves, and training the same records lands
        // on the same prior every time.
        let n = Double(records.count), a = Double(placed?.filter { $0 }.count ?? records.count)
        let scoredPairs = max(a * (a - 1) / 2 + a * (n - a), 1)
        var prior = min(1 / scoredPairs, 0.5)
        var matches = 0.0
        let allVectors = (placed == nil ? all : scored).sorted { $0.key < $1.key }.map { (scorer.ranks(decoding: $0.key), $0.value) }
        for _ in 0..<500 {
            matches = 0
            for (v, count) in allVectors {
                var logOdds = log(prior / (1 - prior))
                for (i, l) in v.enumerated() where l >= 0 { logOdds += log(max(m[i][l], 1e-12) / max(u[i][l], 1e-12)) }
                matches += count / (1 + exp(-logOdds))
            }
            let next = min(max(matches / scoredPairs, 1e-12), 0.5)
            defer { prior = next }
            if abs(next - prior) <= prior * 1e-6 { break }
        }
        var model = defaults
        model.prior = prior
        for (i, attr) in attributes.enumerated() {
            model.attributes[attr] = MatchModel.Parameters(comparator: comparators[i], m: m[i], u: u[i])
        }
        let blockedPairs = Int(all.values.reduce(0, +).rounded())
        return Report(records: records.count, blockedPairs: blockedPairs, randomPairs: drawn, matchesAmongBlocked: matches, model: model)
    }
}

extension MatchTrainer {
    /// EM over distinct comparison vectors (with their pair counts), estimating m of the
    /// attributes in `used` with u held; returns m for every attribute (the others as given).
    func em(_ vectors: [([Int], Int)], used: [Int], start: [[Double]], u: [[Double]], levels: [Int]) -> [[Double]] {
        var m = start
        var lambda = 0.1
        for _ in 0..<rounds {
            var counts = levels.map { [Double](repeating: 0.01, count: $0) }
            var matched = 0.0, total = 0.0
            for (v, count) in vectors {
                var logOdds = log(lambda / (1 - lambda))
                for i in used where v[i] >= 0 { logOdds += log(max(m[i][v[i]], 1e-12) / max(u[i][v[i]], 1e-12)) }
                let weight = Double(count) / (1 + exp(-logOdds))
                matched += weight
                total += Double(count)
                for i in used where v[i] >= 0 { counts[i][v[i]] += weight }
            }
            for i in used { m[i] = counts[i].map { $0 / counts[i].reduce(0, +) } }
            lambda = min(max(matched / max(total, 1), 1e-6), 1 - 1e-6)
        }
        return m
    }
}

/// A small, seeded generator (SplitMix64), so training is repeatable.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
