import JSON

/// A subject's attribute states by name, kept in name order.
///
/// A subject has a dozen attributes: comparing names finds one faster than hashing them
/// (the fold looks attributes up several times per event), the states sit in one array
/// instead of a hash table's buckets, and the stored form, which needs names in order
/// so that equal states encode to equal bytes, reads them already sorted.
public struct AttributeTable: Sendable, Hashable, Sequence {
    /// Attribute names, ascending.
    public private(set) var keys: [String] = []
    private var values: [AttributeState] = []

    public init() {}

    public var count: Int { keys.count }
    public var isEmpty: Bool { keys.isEmpty }

    /// Where `name` is, or where it would be inserted to keep the names in order. A name
    /// shared with the configuration (as events carry it) is found by identity, without
    /// comparing the bytes of the names before it.
    private func slot(_ name: String) -> (found: Bool, index: Int) {
        if let i = keys.firstIndex(where: { $0.sharesStorage(with: name) }) { return (true, i) }
        // One pass over the names in order, to the first not below `name`: a new attribute (most
        // of a replay's lookups) compares with the names before its slot once, not three times.
        let i = keys.firstIndex { !($0 < name) } ?? keys.count
        return (i < keys.count && keys[i] == name, i)
    }

    public func contains(_ name: String) -> Bool { keys.contains(name) }

    public subscript(name: String) -> AttributeState? {
        get {
            let s = slot(name)
            return s.found ? values[s.index] : nil
        }
        set {
            let s = slot(name)
            switch (s.found, newValue) {
            case (true, let v?): values[s.index] = v
            case (true, nil): keys.remove(at: s.index); values.remove(at: s.index)
            case (false, let v?): insert(name, v, at: s.index)
            case (false, nil): break
            }
        }
    }

    /// Inserts a new attribute at its slot. A subject's first attribute makes room for a
    /// dozen: they arrive one by one, and growing by one reallocated both arrays each time.
    private mutating func insert(_ name: String, _ state: AttributeState, at index: Int) {
        if keys.isEmpty {
            keys.reserveCapacity(12)
            values.reserveCapacity(12)
        }
        if index == keys.count {
            keys.append(name)
            values.append(state)
        } else {
            keys.insert(name, at: index)
            values.insert(state, at: index)
        }
    }

    /// The golden value of `name`, read where it lies (the subscript copies the whole state,
    /// retaining every string in it).
    public func golden(_ name: String) -> GoldenValue? {
        let s = slot(name)
        return s.found ? values[s.index].golden : nil
    }

    /// ``AttributeState/goldenText`` of `name`, read where it lies.
    public func goldenText(_ name: String) -> String? {
        let s = slot(name)
        return s.found ? values[s.index].goldenText : nil
    }

    /// Whether some department holds a value of `name` (a statement neither retracted nor
    /// rejected), read where it lies: no copy of the state, no list of the values.
    public func holdsValue(_ name: String) -> Bool {
        let s = slot(name)
        guard s.found else { return false }
        let statements = values[s.index].statements
        return statements.indices.contains { statements[$0].isActive }
    }

    /// ``AttributeState/heldValues`` of `name`, read where it lies: no copy of the state.
    public func heldValues(_ name: String) -> [String] {
        let s = slot(name)
        return s.found ? values[s.index].heldValues : []
    }

    /// Whether a statement of `name` (active or not) has the value `value`, byte for byte,
    /// read where it lies.
    public func hasStatement(_ name: String, valued value: String) -> Bool {
        let s = slot(name)
        guard s.found else { return false }
        let statements = values[s.index].statements
        return statements.indices.contains { statements[$0].value?.utf8.elementsEqual(value.utf8) ?? false }
    }

    /// Calls `body` with the state of `name` to change in place, inserted empty when absent.
    public mutating func modify<R>(_ name: String, _ body: (inout AttributeState) throws -> R) rethrows -> R {
        let s = slot(name)
        if !s.found { insert(name, AttributeState(), at: s.index) }
        return try body(&values[s.index])
    }

    /// Calls `body` with the state of `name` to change in place; nil when absent.
    public mutating func update<R>(_ name: String, _ body: (inout AttributeState) throws -> R) rethrows -> R? {
        let s = slot(name)
        guard s.found else { return nil }
        return try body(&values[s.index])
    }

    /// Appends each name and state in name order to `w` (the stored form's attribute list).
    func encode(into w: inout BinaryWriter, format: UInt8) {
        values.withUnsafeBufferPointer { states in
            for i in states.indices {
                w.string(keys[i])
                states.encode(i, into: &w, format: format)
            }
        }
    }

    public func makeIterator() -> some IteratorProtocol<(key: String, value: AttributeState)> {
        zip(keys, values).lazy.map { (key: $0, value: $1) }.makeIterator()
    }
}
