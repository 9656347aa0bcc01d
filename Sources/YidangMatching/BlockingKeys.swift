import YidangModel

/// The blocking keys of a record under a kind's matching settings: a candidate shares at
/// least one. An attribute's part of a key is its comparator's reading of a value (a name's
/// pinyin, a phone's last eight digits, a date with month and day in either order, other
/// text folded); a rule of several attributes combines their parts.
public final class BlockingKeys: Sendable {
    public let settings: MatchingSettings
    /// The comparator of each attribute of each rule of `settings.block` (nil: the attribute
    /// has none), looked up once: a dictionary lookup of an attribute's name for every value
    /// read was a twentieth of a record's blocking keys (callgrind, the registry snapshot's
    /// import: 49 of 966 M instructions).
    public let ruleComparators: [[Comparator?]]
    /// How many attribute names the rules of several attributes list in all (an attribute
    /// counted once per rule): the most values lists a record's entries hold.
    public let multiAttributeRuleNames: Int
    public init(settings: MatchingSettings) {
        self.settings = settings
        ruleComparators = settings.block.map { rule in rule.map { settings.compare[$0] } }
        multiAttributeRuleNames = settings.block.reduce(0) { $0 + ($1.count > 1 ? $1.count : 0) }
    }

    /// The part of a key one value of `attribute` gives, or nil when it gives none (a phone
    /// shorter than eight digits, a name with no reading): a name's pinyin, a phone's last
    /// eight digits, an address's parts below the city, a date with its month and day in
    /// either order, other text folded.
    public func part(_ value: String, attribute: String) -> String? {
        Self.part(value, comparator: settings.compare[attribute])
    }

    /// ``part(_:attribute:)`` with the attribute's comparator already looked up (nil: the
    /// attribute has none, and the value is its own part).
    public static func part(_ value: String, comparator: Comparator?) -> String? {
        guard let comparator else { return value }
        switch comparator {
        case .name:
            let k = ComparableText.pinyin(ofFolded: ComparableText.folded(value))
            return k.isEmpty ? nil : k
        case .phone: return lastEight(value)
        case .text: return ComparableText.folded(value)
        case .address:
            // Its parts below the city: the same place with or without province and city.
            return ComparableText.addressKey(ComparableText.folded(value))
        case .date: return Self.orderFree(value)
        case .exact, .number: return value
        }
    }

    /// A date's key with its month and day in either order (`1988-04-09` and `1988-09-04`
    /// give `1988-04-09`): a date written day first still finds its record.
    static func orderFree(_ date: String) -> String {
        // Read where the bytes lie and written in one buffer: copying them into an array and
        // concatenating four slices cost about a thousand instructions a date.
        var date = date
        let swapped: String? = date.withUTF8 { u in
            guard u.count == 10, u[4] == UInt8(ascii: "-"), u[7] == UInt8(ascii: "-"),
                  (u[8], u[9]) < (u[5], u[6]) else { return nil }
            return String(unsafeUninitializedCapacity: 10) { out in
                for i in 0..<5 { out[i] = u[i] }
                out[5] = u[8]; out[6] = u[9]; out[7] = UInt8(ascii: "-"); out[8] = u[5]; out[9] = u[6]
                return 10
            }
        }
        return swapped ?? date
    }

    /// A phone's last eight characters, or nil when it has fewer. A value of ASCII bytes
    /// other than a carriage return (which joins a line feed into one character) has one
    /// character a byte, and is cut by bytes without counting characters.
    static func lastEight(_ value: String) -> String? {
        // Read where the bytes lie: the UTF-8 view's iterator and a substring made into a
        // string cost about 860 instructions a phone (callgrind, the registry snapshot's rebuild).
        var value = value
        let ascii: String?? = value.withUTF8 { u in
            guard u.allSatisfy({ $0 < 0x80 && $0 != 0x0D }) else { return .none }
            return .some(u.count >= 8 ? String(decoding: UnsafeBufferPointer(rebasing: u[(u.count - 8)...]), as: UTF8.self) : nil)
        }
        if let ascii { return ascii }
        return value.count >= 8 ? String(value.suffix(8)) : nil
    }

    /// ``part(_:attribute:)`` of a value its attribute's comparator has prepared: the same
    /// key, without reading the value again.
    public static func part(of v: ComparableValue, _ comparator: Comparator) -> String? {
        switch comparator {
        case .name: return v.reading.isEmpty ? nil : v.reading
        case .phone: return lastEight(v.value)
        case .text: return v.folded
        case .address: return ComparableText.addressKey(v.folded)
        case .date: return orderFree(v.value)
        case .exact, .number: return v.value
        }
    }

    /// The keys a record gives under `rule`, from its values of each attribute (`part` reads
    /// one value: a caller may cache readings); at most 64.
    public func keys(_ rule: [String], values: (String) -> [String], part: (String, String) -> String?) -> [String] {
        // Known before any part is worked out: a name's reading is the costly one, and a
        // department that sends a name without a birth date would pay it for nothing.
        guard Self.fills(rule, values) else { return [] }
        return keys(rule) { attribute in values(attribute).compactMap { part($0, attribute) } }
    }

    /// Whether a record can give `rule` a key: it holds a value of each of the rule's
    /// attributes (`values` lists the record's values of one).
    public static func fills(_ rule: [String], _ values: (String) -> [String]) -> Bool {
        rule.allSatisfy { !values($0).isEmpty }
    }

    /// The keys a record gives under `rule`, from the parts of its values of each attribute; at most 64.
    public func keys(_ rule: [String], parts partsOf: (String) -> [String]) -> [String] {
        var keys = [""]
        for (i, attribute) in rule.enumerated() {
            // Distinct and in order; most records hold one value of an attribute, which needs
            // neither a set nor a sort.
            var parts = partsOf(attribute)
            if parts.isEmpty { return [] }
            if parts.count > 1 {
                parts.sort()
                parts = parts.indices.compactMap { j in j > 0 && parts[j] == parts[j - 1] ? nil : parts[j] }
            }
            keys = keys.flatMap { k in parts.map { i == 0 ? $0 : Self.joined(k, $0) } }
            if keys.count > 64 { keys = Array(keys.prefix(64)) }
        }
        return keys
    }

    /// A key of several attributes so far (`head`), the separator of a key's parts (U+001F)
    /// and the next attribute's `part`, written into one new string: appending them one by
    /// one cost about 250 instructions an append (callgrind, the registry snapshot's rebuild).
    public static func joined(_ head: String, _ part: String) -> String {
        String(unsafeUninitializedCapacity: head.utf8.count + 1 + part.utf8.count) { out in
            var n = out.initialize(fromContentsOf: head.utf8)
            out[n] = 0x1F
            n += 1
            return out[n...].initialize(fromContentsOf: part.utf8)
        }
    }

    /// Every key a record gives under every rule.
    public func keys(of record: [String: [String]]) -> [String] {
        settings.block.flatMap { keys($0, values: { record[$0] ?? [] }, part: { self.part($0, attribute: $1) }) }
    }
}
