/// Which column family each key of a database lives in, by the key's first byte (its tag).
///
/// Keys under an *appended tag* are only ever written in ascending order (a log's positions,
/// a change feed's): each such tag gets a column family of its own, and every other key
/// stays in RocksDB's default family. A family whose keys only grow is flushed into table
/// files that overlap no other file of the family, so RocksDB moves them down the levels
/// without rewriting them; beside the rest of the keys, every flush spans the whole key
/// space and every merge from level 0 rewrites those keys with the others.
///
/// The routing is invisible to the database's callers: a key is read, written, scanned and
/// ingested through the family its tag names. A scan whose range crosses families reads
/// each family's part in key order, one after the other, which is the key order of the
/// whole range since a family holds whole tags.
public struct KeyFamilies: Sendable, Equatable {
    public static func == (a: KeyFamilies, b: KeyFamilies) -> Bool { a.appendedTags == b.appendedTags }

    /// The appended tags, ascending; family `i + 1` holds the keys of `appendedTags[i]`.
    public let appendedTags: [UInt8]
    /// The family of each tag: 0 (the default family) or its place in `appendedTags` plus one.
    private let familyOfTag: [UInt8]

    /// One family for every key (RocksDB's default).
    public static let single = KeyFamilies(appendedTags: [])

    /// Families for `appendedTags` (each below 0xFF, since a family's range ends at the next
    /// tag), in ascending order.
    public init(appendedTags: [UInt8]) {
        let tags = Array(Set(appendedTags)).sorted()
        precondition(!tags.contains(0xFF), "an appended tag's range ends at the next tag: 0xFF has none")
        precondition(tags.count < 255, "at most 254 appended tags")
        self.appendedTags = tags
        var table = [UInt8](repeating: 0, count: 256)
        for (i, t) in tags.enumerated() { table[Int(t)] = UInt8(i + 1) }
        familyOfTag = table
    }

    /// How many families: the default one and one per appended tag.
    public var count: Int { appendedTags.count + 1 }

    /// The family's name in the store: `default`, or `appended-` and its tag in hex.
    public func name(_ family: Int) -> String {
        guard family > 0 else { return "default" }
        let hex = String(appendedTags[family - 1], radix: 16)
        return "appended-" + (hex.count == 1 ? "0" + hex : hex)
    }

    /// The family of a key whose first byte is `tag` (an empty key's is the default family).
    @inline(__always)
    public func family(ofTag tag: UInt8) -> Int { Int(familyOfTag[Int(tag)]) }

    /// The family that holds `key`.
    @inline(__always)
    public func family<Key: Collection<UInt8>>(of key: Key) -> Int { key.first.map { family(ofTag: $0) } ?? 0 }

    /// `[lower, upper)` cut where it crosses from one family into another, each part with its
    /// family, in key order (`upper` nil: no bound). Parts of the default family on either
    /// side of an appended tag are separate parts.
    public func parts(from lower: [UInt8], to upper: [UInt8]?) -> [(family: Int, lower: [UInt8], upper: [UInt8]?)] {
        guard !appendedTags.isEmpty else { return [(0, lower, upper)] }
        func below(_ a: [UInt8], _ b: [UInt8]?) -> Bool { b.map { a.lexicographicallyPrecedes($0) } ?? true }
        // Every place the family can change: each appended tag's first key and the next tag's.
        var cuts: [[UInt8]] = []
        for t in appendedTags {
            if cuts.last != [t] { cuts.append([t]) }
            cuts.append([t + 1])
        }
        var parts: [(family: Int, lower: [UInt8], upper: [UInt8]?)] = []
        var start = lower
        for cut in cuts where start.lexicographicallyPrecedes(cut) && below(cut, upper) {
            parts.append((family(of: start), start, cut))
            start = cut
        }
        if below(start, upper) { parts.append((family(of: start), start, upper)) }
        return parts
    }
}
