#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import YidangModel

/// A ``MatchModel`` ready to score many pairs: its attributes in one order, each level's
/// weight log₂(m/u) worked out once, and records prepared once (``Record``) to be compared
/// with any number of others.
public struct MatchScorer: Sendable {
    public let model: MatchModel
    /// The compared attributes, sorted.
    public let attributes: [String]
    public let comparators: [Comparator]
    /// By attribute, then level rank.
    let weights: [[Double]]
    let priorWeight: Double

    public init(model: MatchModel) {
        self.model = model
        attributes = model.attributes.keys.sorted()
        comparators = attributes.map { model.attributes[$0]!.comparator }
        weights = attributes.map { a in
            let p = model.attributes[a]!
            return p.m.indices.map { log2(max(p.m[$0], 1e-9) / max(p.u[$0], 1e-9)) }
        }
        priorWeight = log2(model.prior / (1 - model.prior))
    }

    /// A record's values of each compared attribute, prepared, in ``attributes`` order.
    public struct Record: Sendable {
        public let values: [[ComparableValue]]
    }

    /// The keys of a prepared record under one of `blocking`'s rules: those
    /// ``BlockingKeys/keys(_:values:part:)`` gives its values, from their prepared readings.
    public func blockingKeys(_ record: Record, rule: [String], _ blocking: BlockingKeys) -> [String] {
        blocking.keys(rule) { a in
            guard let i = attributes.firstIndex(of: a) else { return [] }
            return record.values[i].compactMap { BlockingKeys.part(of: $0, comparators[i]) }
        }
    }

    /// Prepares a record given as attribute → every value held.
    public func prepare(_ record: [String: [String]]) -> Record {
        prepare { record[$0] ?? [] }
    }

    /// Prepares a record from its values of each attribute.
    public func prepare(values: (String) -> [String]) -> Record {
        Record(values: attributes.indices.map { i in values(attributes[i]).map(comparators[i].prepare) })
    }

    /// Each attribute's level rank in `ranks` (-1 where a side holds no value).
    public func ranks(_ a: Record, _ b: Record, into ranks: inout [Int]) {
        ranks.removeAll(keepingCapacity: true)
        for i in attributes.indices { ranks.append(comparators[i].rank(a.values[i], b.values[i]) ?? -1) }
    }

    /// The pair's level ranks packed in a word, four bits an attribute (rank + 1; 0 where a
    /// side holds no value): a compact key for counting comparison vectors. At most 16
    /// attributes (``MatchingSettings`` checks).
    public func code(_ a: Record, _ b: Record) -> UInt64 {
        var code: UInt64 = 0
        for i in attributes.indices {
            code |= UInt64((comparators[i].rank(a.values[i], b.values[i]) ?? -1) + 1) << UInt64(4 * i)
        }
        return code
    }

    /// The ranks a ``code(_:_:)`` packs (-1 for a missing value).
    public func ranks(decoding code: UInt64) -> [Int] {
        attributes.indices.map { Int(code >> UInt64(4 * $0) & 15) - 1 }
    }

    /// How common an exact value is among all records (0…1), by attribute index and the
    /// value `a` gives; nil where not known. An exact agreement on a value shared by many (a
    /// switchboard phone, 王伟) weighs less: its u is at least that share.
    public typealias Frequency = (_ attribute: Int, _ value: ComparableValue) -> Double?

    /// The pair's match weight: the prior's log-odds plus each attribute's log₂(m/u).
    public func weight(_ a: Record, _ b: Record, frequency: Frequency? = nil) -> Double {
        var total = priorWeight
        for i in attributes.indices {
            if let r = comparators[i].rank(a.values[i], b.values[i]) { total += weight(i, r, a, b, frequency) }
        }
        return total
    }

    /// Attribute `i`'s weight at rank `r`, down-weighted for a common exact value.
    @inline(__always)
    private func weight(_ i: Int, _ r: Int, _ a: Record, _ b: Record, _ frequency: Frequency?) -> Double {
        guard let frequency, r == weights[i].count - 1,
              let shared = a.values[i].first(where: { x in b.values[i].contains { $0.folded == x.folded } }),
              let f = frequency(i, shared), let p = model.attributes[attributes[i]], f > p.u[r] else { return weights[i][r] }
        return log2(max(p.m[r], 1e-9) / f)
    }

    /// The match probability of a weight: 2^w / (1 + 2^w).
    public static func probability(weight: Double) -> Double {
        let odds = pow(2, weight)
        return odds.isInfinite ? 1 : odds / (1 + odds)
    }

    /// The pair scored attribute by attribute.
    public func score(_ a: Record, _ b: Record, frequency: Frequency? = nil) -> MatchModel.Score {
        var comparisons: [MatchModel.Comparison] = []
        var total = priorWeight
        for (i, attribute) in attributes.enumerated() {
            guard let r = comparators[i].rank(a.values[i], b.values[i]) else {
                comparisons.append(MatchModel.Comparison(attribute: attribute, level: .missing, weight: 0))
                continue
            }
            let w = weight(i, r, a, b, frequency)
            comparisons.append(MatchModel.Comparison(attribute: attribute, level: comparators[i].level(r), weight: w))
            total += w
        }
        return MatchModel.Score(comparisons: comparisons, weight: total, probability: Self.probability(weight: total))
    }
}
