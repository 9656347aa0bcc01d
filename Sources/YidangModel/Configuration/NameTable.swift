import JSON

/// Names a configuration declares that an event spells as a value (event types, department
/// codes), each with its value, found by the bytes of the name the event spells. (A data
/// member's name is a key, which the parser hands back as the configuration's own string:
/// ``RuleTable`` finds those by identity.)
///
/// A dictionary keyed by `String` hashes the whole name on every lookup (about 380
/// instructions for a type or a source: callgrind of the bulk HTTP server); a
/// ``JSON/JSONKeyTable`` finds it by its length, first and last bytes and one comparison.
/// A name whose bytes are not the configuration's is then looked up as text, so a
/// canonically equivalent spelling (a precomposed or a combining accent) is found as before.
struct NameTable<Value: Sendable>: Sendable {
    private let table: JSONKeyTable
    /// The configuration's own name and its value, by the name's place in `table`.
    private let entries: [(name: String, value: Value)]
    private let places: [String: Int]

    init(_ pairs: some Sequence<(key: String, value: Value)>) {
        let pairs = Array(pairs)
        table = JSONKeyTable(pairs.map(\.key))
        var entries = [(name: String, value: Value)?](repeating: nil, count: table.count)
        var places: [String: Int] = [:]
        for (name, value) in pairs {
            guard let place = table.index(of: name) else { continue }   // the empty name
            entries[place] = (name, value)
            places[name] = place
        }
        self.entries = entries.map { $0! }   // every name but the empty one has a place
        self.places = places
    }

    /// The entry `name` spells, with the configuration's own instance of the name.
    subscript(name: String) -> (name: String, value: Value)? {
        guard let place = table.index(of: name) ?? places[name] else { return nil }
        return entries[place]
    }
}
