#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import YidangModel

/// A Fellegi–Sunter model: for each compared attribute, the probability of each comparison
/// level among true matches (m) and among non-matches (u). A pair's match weight is the
/// sum of log₂(m/u) over its attributes (a missing value adds nothing) plus the prior's
/// log-odds; its match probability is 2^w / (1 + 2^w).
public struct MatchModel: Sendable, Equatable, Codable {
    public struct Parameters: Sendable, Equatable, Codable {
        public var comparator: Comparator
        /// By level rank, `different` first.
        public var m: [Double]
        public var u: [Double]
    }
    public var attributes: [String: Parameters]
    /// The probability that two blocked records are the same entity, before comparing them.
    public var prior: Double

    /// Defaults for an untrained model: agreement is likely among matches and rare among
    /// non-matches, with the comparator's near levels in between.
    public init(settings: MatchingSettings, prior: Double = 0.0001) {
        var out: [String: Parameters] = [:]
        for (attribute, comparator) in settings.compare {
            out[attribute] = Self.defaults(comparator)
        }
        attributes = out
        self.prior = prior
    }

    static func defaults(_ c: Comparator) -> Parameters {
        // Near what training finds on a generated city (Tools/matchgen.py): names and birth
        // dates agree in nearly every match; phones change often; an address, when both
        // records give one, is the same place in a match and a different one otherwise.
        switch c {
        case .exact: return Parameters(comparator: c, m: [0.05, 0.95], u: [0.5, 0.5])
        case .text: return Parameters(comparator: c, m: [0.05, 0.05, 0.1, 0.8], u: [0.9, 0.06, 0.03, 0.01])
        case .name: return Parameters(comparator: c, m: [0.01, 0.02, 0.05, 0.92], u: [0.985, 0.012, 0.0005, 0.0025])
        case .date: return Parameters(comparator: c, m: [0.01, 0.03, 0.01, 0.95], u: [0.995, 0.0001, 0.0045, 0.0004])
        case .phone: return Parameters(comparator: c, m: [0.4, 0.05, 0.55], u: [0.9999, 0.00005, 0.00005])
        case .address: return Parameters(comparator: c, m: [0.01, 0.04, 0.45, 0.5], u: [0.995, 0.004, 0.0008, 0.0002])
        case .number: return Parameters(comparator: c, m: [0.1, 0.2, 0.7], u: [0.9, 0.09, 0.01])
        }
    }

    /// One attribute's contribution to a pair's score.
    public struct Comparison: Sendable, Equatable {
        public var attribute: String
        public var level: ComparisonLevel
        /// log₂(m/u); 0 for a missing value.
        public var weight: Double
    }

    /// A scored pair: each comparison and the match probability.
    public struct Score: Sendable {
        public var comparisons: [Comparison]
        public var weight: Double
        public var probability: Double
    }

    /// Scores two records given as attribute → every value held (``MatchScorer`` scores
    /// many pairs faster).
    /// - Parameter frequency: how common an exact value of an attribute is among all records
    ///   (``MatchScorer/Frequency``), given the attribute's name and the value.
    public func score(_ a: [String: [String]], _ b: [String: [String]], frequency: (String, String) -> Double? = { _, _ in nil }) -> Score {
        let scorer = MatchScorer(model: self)
        return withoutActuallyEscaping(frequency) { frequency in
            scorer.score(scorer.prepare(a), scorer.prepare(b)) { frequency(scorer.attributes[$0], $1.value) }
        }
    }
}
