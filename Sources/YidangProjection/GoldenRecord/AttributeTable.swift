import JSON
import MemoryHints

/// A subject's attribute states by name, kept in name order.
///
/// A subject has a dozen attributes: comparing names finds one faster than hashing them
/// (the fold looks attributes up several times per event), the states sit in one array
/// instead of a hash table's buckets, and the stored form, which needs names in order
/// so that equal states encode to equal bytes, reads them already sorted.
public struct AttributeTable: Sendable, Hashable, Sequence {
    /// Each attribute's name and its ``orderWord(_:)``, ascending by name.
    private var names: [(name: String, word: UInt64)] = []
    private var values: [AttributeState] = []

    public init() {}

    /// Attribute names, ascending.
    public var keys: [String] { names.map(\.name) }
    public var count: Int { names.count }
    public var isEmpty: Bool { names.isEmpty }

    public static func == (a: AttributeTable, b: AttributeTable) -> Bool {
        a.names.count == b.names.count && a.values == b.values
            && a.names.indices.allSatisfy { a.names[$0].name == b.names[$0].name }
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(names.count)
        for n in names { hasher.combine(n.name) }
        hasher.combine(values)
    }

    /// Where `name` is, or where it would be inserted to keep the names in order. A name
    /// shared with the configuration (as events carry it) is found by identity, without
    /// comparing the bytes of the names before it.
    /// `word` is the name's ``orderWord(_:)`` when not found (0 when found); `known`, that
    /// word when the caller has it.
    private func slot(_ name: String, orderWord known: UInt64? = nil) -> (found: Bool, index: Int, word: UInt64) {
        if let i = names.firstIndex(where: { $0.name.sharesStorage(with: name) }) { return (true, i, 0) }
        // One pass over the names in order, to the first not below `name`: a new attribute (most
        // of a replay's lookups) compares with the names before its slot once, not three times,
        // and by the words kept beside them where both names are ASCII: String's comparison
        // of two names past fifteen bytes (`residenceAddress`) is a call chain of its own.
        let word = known ?? Self.orderWord(name)
        let i = names.firstIndex { entry in
            if word != 0 && entry.word != 0 && entry.word != word { return entry.word > word }
            return !(entry.name < name)
        } ?? names.count
        // Names whose words differ differ: only names that share their first eight bytes (or
        // are not ASCII) are compared as strings.
        let found = i < names.count && !(word != 0 && names[i].word != 0 && names[i].word != word) && names[i].name == name
        return (found, i, word)
    }

    /// The first eight UTF-8 bytes of a name, big-endian and padded with zeros, when its
    /// first nine bytes (or all, if fewer) are ASCII but NUL; 0 for any other name. Two such
    /// words that differ order as String's `<` orders their names: no combining mark (which
    /// NFC would compose with the eighth character, putting a decomposed `é` after `f`) can
    /// follow an ASCII ninth byte, and a name that is a prefix of another is padded with
    /// zeros, below any byte but NUL.
    public static func orderWord(_ name: String) -> UInt64 {
        name.utf8.withContiguousStorageIfAvailable { bytes -> UInt64 in
            let n = Swift.min(bytes.count, 9)
            guard n > 0 else { return 0 }
            var word: UInt64 = 0
            for i in 0..<n {
                let b = bytes[i]
                if b == 0 || b >= 0x80 { return 0 }
                if i < 8 { word |= UInt64(b) << (56 - 8 * UInt64(i)) }
            }
            return word
        } ?? 0
    }

    public func contains(_ name: String) -> Bool { slot(name).found }

    public subscript(name: String) -> AttributeState? {
        get {
            let s = slot(name)
            return s.found ? values[s.index] : nil
        }
        set {
            let s = slot(name)
            switch (s.found, newValue) {
            case (true, let v?): values[s.index] = v
            case (true, nil): names.remove(at: s.index); values.remove(at: s.index)
            case (false, let v?): insert(name, word: s.word, v, at: s.index)
            case (false, nil): break
            }
        }
    }

    /// Inserts a new attribute at its slot. A subject's first attribute makes room for a
    /// dozen: they arrive one by one, and growing by one reallocated both arrays each time.
    private mutating func insert(_ name: String, word: UInt64, _ state: AttributeState, at index: Int) {
        if names.isEmpty {
            names.reserveCapacity(12)
            values.reserveCapacity(12)
        }
        let entry = (name: name, word: word)
        if index == names.count {
            names.append(entry)
            values.append(state)
        } else {
            names.insert(entry, at: index)
            values.insert(state, at: index)
        }
    }

    /// The golden value of `name`, read where it lies (the subscript copies the whole state,
    /// retaining every string in it).
    public func golden(_ name: String) -> GoldenValue? {
        let s = slot(name)
        return s.found ? values[s.index].golden : nil
    }

    /// ``AttributeState/goldenText`` of `name`, read where it lies. `orderWord`, when given,
    /// must be `name`'s ``orderWord(_:)``: a name the record lacks is then told absent without
    /// working it out again.
    public func goldenText(_ name: String, orderWord: UInt64? = nil) -> String? {
        let s = slot(name, orderWord: orderWord)
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
    /// read where it lies. `orderWord` as for ``goldenText(_:orderWord:)``.
    public func hasStatement(_ name: String, valued value: String, orderWord: UInt64? = nil) -> Bool {
        let s = slot(name, orderWord: orderWord)
        guard s.found else { return false }
        let statements = values[s.index].statements
        return statements.indices.contains { statements[$0].value?.utf8.elementsEqual(value.utf8) ?? false }
    }

    /// Calls `body` with the state of `name` to change in place, inserted empty when absent.
    /// `orderWord`, when given, must be `name`'s ``orderWord(_:)``.
    public mutating func modify<R>(_ name: String, orderWord: UInt64? = nil, _ body: (inout AttributeState) throws -> R) rethrows -> R {
        let s = slot(name, orderWord: orderWord)
        if !s.found { insert(name, word: s.word, AttributeState(), at: s.index) }
        return try body(&values[s.index])
    }

    /// Calls `body` with the state of `name` to change in place; nil when absent.
    public mutating func update<R>(_ name: String, _ body: (inout AttributeState) throws -> R) rethrows -> R? {
        let s = slot(name)
        guard s.found else { return nil }
        return try body(&values[s.index])
    }

    /// Asks for the storage of the attribute table that lies `offset` bytes into element
    /// `index` of `array` (its names and states) to be brought into the caches (a hint:
    /// ``Prefetch``). Reads the element.
    @inline(__always)
    public static func prefetchStorage<Element>(at index: Int, of array: borrowing [Element], offset: Int) {
        if let names = Prefetch.referenceBits(at: index, of: array, offset: offset + namesOffset) { Prefetch.object(bits: names, lines: 4) }
        if let values = Prefetch.referenceBits(at: index, of: array, offset: offset + valuesOffset) { Prefetch.object(bits: values, lines: 4) }
    }

    /// Asks for each attribute's statements of that table to be brought into the caches.
    /// Reads its states: pays once ``prefetchStorage(at:of:offset:)`` has brought them in.
    @inline(__always)
    public static func prefetchStatements<Element>(at index: Int, of array: borrowing [Element], offset: Int) {
        guard let values = Prefetch.referenceBits(at: index, of: array, offset: offset + valuesOffset) else { return }
        Prefetch.arrayStorages(inArrayAt: values, of: AttributeState.self, offset: statementsOffset, lines: 2)
    }

    /// Asks for the strings of that table's statements held apart from them (their event ids
    /// and values, when too long to be held inline) to be brought into the caches. Reads the
    /// states and the statements: pays once ``prefetchStatements(at:of:offset:)`` brought them in.
    @inline(__always)
    public static func prefetchStatementStrings<Element>(at index: Int, of array: borrowing [Element], offset: Int) {
        guard let values = Prefetch.referenceBits(at: index, of: array, offset: offset + valuesOffset) else { return }
        Prefetch.forEachElement(inArrayAt: values, of: AttributeState.self, limit: 32) { state in
            Prefetch.strings(inArrayAt: state.load(fromByteOffset: statementsOffset, as: UInt.self), of: Statement.self, offsets: statementStringOffsets)
        }
    }

    private static let statementStringOffsets = (MemoryLayout<Statement>.offset(of: \.eventId)!, MemoryLayout<Statement>.offset(of: \.value)!)
    private static let namesOffset = MemoryLayout<AttributeTable>.offset(of: \.names)!
    private static let valuesOffset = MemoryLayout<AttributeTable>.offset(of: \.values)!
    private static let statementsOffset = MemoryLayout<AttributeState>.offset(of: \.statements)!

    /// Appends each name and state in name order to `w` (the stored form's attribute list).
    func encode(into w: inout BinaryWriter, format: UInt8) {
        values.withUnsafeBufferPointer { states in
            for i in states.indices {
                w.string(names[i].name)
                states.encode(i, into: &w, format: format)
            }
        }
    }

    public func makeIterator() -> some IteratorProtocol<(key: String, value: AttributeState)> {
        zip(names, values).lazy.map { (key: $0.name, value: $1) }.makeIterator()
    }
}
