extension String {
    /// Whether `self` and `other` are the same value bit for bit: the same storage, or the
    /// same small inline contents. True means equal; false means nothing, since equal strings
    /// may be stored twice. For lookups of names shared through an ``InternTable``, where
    /// this answers in one comparison what `==` answers by comparing bytes.
    @inlinable @inline(__always)
    public func sharesStorage(with other: String) -> Bool {
        guard MemoryLayout<String>.size == 16 else { return false }
        return withUnsafeBytes(of: self) { a in
            withUnsafeBytes(of: other) { b in
                a.load(as: UInt64.self) == b.load(as: UInt64.self)
                    && a.load(fromByteOffset: 8, as: UInt64.self) == b.load(fromByteOffset: 8, as: UInt64.self)
            }
        }
    }

    /// Whether `self` and `other` have the same UTF-8 bytes, for text the hub has normalized
    /// (names from the configuration, values from validated events): by identity first,
    /// then by length, and only then by `==`. Strings of different lengths are told apart
    /// without String's Unicode-aware comparison, a call chain even between names of
    /// different lengths once one is longer than fifteen bytes; `==` keeps its fast path
    /// for small ASCII strings of one length (department codes).
    @inlinable
    public func hasSameUTF8(as other: String) -> Bool {
        if sharesStorage(with: other) { return true }
        return utf8.count == other.utf8.count && self == other
    }
}

extension Collection {
    /// The index of the first element whose name is `target`, found by identity first (one
    /// comparison per element for a name shared through an ``InternTable`` or the
    /// configuration), then by `==`. What it falls back for is mostly a department code (a
    /// statement's source, a precedence rank), a small ASCII string for which `==` is the fast
    /// test: ``String/hasSameUTF8(as:)`` there cost a replay's statements 133 M → 147 M
    /// instructions (callgrind, the registry rebuild).
    @inlinable
    public func firstIndex(named target: String, by name: (Element) -> String) -> Index? {
        if let i = firstIndex(where: { name($0).sharesStorage(with: target) }) { return i }
        return firstIndex { name($0) == target }
    }
}
