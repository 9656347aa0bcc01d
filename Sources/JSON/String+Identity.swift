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

    /// Whether `self` and `other` have the same UTF-8 bytes: by identity first, then by
    /// length, then byte by byte. For text the hub has normalized (names from the
    /// configuration, values from validated events) that is `==`, without String's
    /// Unicode-aware comparison, which costs a call chain even between names of different
    /// lengths once one is longer than fifteen bytes.
    @inlinable
    public func hasSameUTF8(as other: String) -> Bool {
        if sharesStorage(with: other) { return true }
        return utf8.count == other.utf8.count && utf8.elementsEqual(other.utf8)
    }
}

extension Collection {
    /// The index of the first element whose name is `target`, found by identity first (one
    /// comparison per element for a name shared through an ``InternTable`` or the
    /// configuration), then by comparing the bytes.
    @inlinable
    public func firstIndex(named target: String, by name: (Element) -> String) -> Index? {
        if let i = firstIndex(where: { name($0).sharesStorage(with: target) }) { return i }
        return firstIndex { name($0) == target }
    }
}
