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
    let comparators: [Comparator]
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

    /// The pair's match weight: the prior's log-odds plus each attribute's log₂(m/u).
    public func weight(_ a: Record, _ b: Record) -> Double {
        var total = priorWeight
        for i in attributes.indices {
            if let r = comparators[i].rank(a.values[i], b.values[i]) { total += weights[i][r] }
        }
        return total
    }

    /// The match probability of a weight: 2^w / (1 + 2^w).
    public static func probability(weight: Double) -> Double {
        let odds = pow(2, weight)
        return odds.isInfinite ? 1 : odds / (1 + odds)
    }

    /// The pair scored attribute by attribute.
    /// - Parameter frequency: how common an exact value is among all records (0…1) for the
    ///   attributes where that is known: an exact agreement on a value shared by many (a
    ///   switchboard phone, 王伟) weighs less, its u being at least that frequency.
    public func score(_ a: Record, _ b: Record, frequency: (String, String) -> Double? = { _, _ in nil }) -> MatchModel.Score {
        var comparisons: [MatchModel.Comparison] = []
        var total = priorWeight
        for (i, attribute) in attributes.enumerated() {
            let c = comparators[i]
            guard let r = c.rank(a.values[i], b.values[i]) else {
                comparisons.append(MatchModel.Comparison(attribute: attribute, level: .missing, weight: 0))
                continue
            }
            var w = weights[i][r]
            if r == c.levels.count - 1,
               let shared = a.values[i].first(where: { x in b.values[i].contains { $0.value == x.value } }),
               let f = frequency(attribute, shared.value), let p = model.attributes[attribute], f > p.u[r] {
                w = log2(max(p.m[r], 1e-9) / f)
            }
            comparisons.append(MatchModel.Comparison(attribute: attribute, level: c.level(r), weight: w))
            total += w
        }
        return MatchModel.Score(comparisons: comparisons, weight: total, probability: Self.probability(weight: total))
    }
}
