import CPrefetch

/// Hints to the processor about memory the caller is about to read: the one thin layer over
/// the compiler's prefetch instruction (`CPrefetch`).
///
/// Guarantees: a hint asks for memory and returns at once. It cannot fault, whatever the
/// address, and changes no result; at worst it costs a few instructions and cache room.
///
/// What it is for: walking records that have gone cold (a replay's or a bulk load's golden
/// records, encoded once at its end), where each record is a chain of loads (its slot, its
/// attribute table, each attribute's statements, their strings) that would otherwise miss one
/// after the other. The hints reach those arrays and strings without retaining them: a retain
/// writes the reference count, and so waits for the very cache line the hint was to fetch. To
/// do so they read field references as the addresses they are (``referenceBits(at:of:offset:)``),
/// a native array's storage as Swift lays it out (``arrayCount(bits:)``,
/// ``arrayElements(bits:)``) and a string's storage from its second word
/// (``stringStorage(objectWord:)``); `MemoryHintsTests` checks those layouts against the
/// toolchain's. Only the loads that reach a hint's address read memory, and only memory the
/// caller's values own: the element given, and the arrays it holds.
public enum Prefetch {
    /// Asks for element `index` of `array` (its first `lines` cache lines) to be brought in;
    /// nothing for an index out of bounds.
    @inlinable @inline(__always)
    public static func element<Element>(_ index: Int, of array: borrowing [Element], lines: Int = 1) {
        array.withUnsafeBufferPointer { buffer in
            guard buffer.indices.contains(index), let base = buffer.baseAddress else { return }
            let raw = UnsafeRawPointer(base + index)
            for line in 0..<lines { yidang_prefetch(raw + 64 * line) }
        }
    }

    /// The bits of the reference (an array's storage, an object) that lies `offset` bytes
    /// into element `index` of `array`, read without retaining it; nil out of bounds. The
    /// element itself is read: hint it first (``element(_:of:lines:)``) when it is cold.
    @inlinable @inline(__always)
    public static func referenceBits<Element>(at index: Int, of array: borrowing [Element], offset: Int) -> UInt? {
        precondition(offset >= 0 && offset + MemoryLayout<UInt>.size <= MemoryLayout<Element>.size, "a reference lies inside the element")
        return array.withUnsafeBufferPointer { buffer in
            guard buffer.indices.contains(index), let base = buffer.baseAddress else { return nil }
            return UnsafeRawPointer(base + index).load(fromByteOffset: offset, as: UInt.self)
        }
    }

    /// Asks for the first `lines` cache lines of the object at `bits` (an array's storage:
    /// its header and first elements) to be brought in.
    @inlinable @inline(__always)
    public static func object(bits: UInt, lines: Int) {
        guard let raw = UnsafeRawPointer(bitPattern: bits) else { return }
        for line in 0..<lines { yidang_prefetch(raw + 64 * line) }
    }

    /// Calls `body` with the address of each element (of type `Element`, at most `limit` of
    /// them) of the native array whose storage is at `bits`, which should be in the caches.
    @inlinable @inline(__always)
    public static func forEachElement<Element>(inArrayAt bits: UInt, of: Element.Type, limit: Int, _ body: (UnsafeRawPointer) -> Void) {
        guard let elements = arrayElements(bits: bits) else { return }
        for i in 0..<Swift.min(limit, arrayCount(bits: bits)) { body(elements + i * MemoryLayout<Element>.stride) }
    }

    /// For the native array whose storage is at `bits` and already in the caches: asks for
    /// the storage of the array that lies `offset` bytes into each of its elements (of type
    /// `Element`, at most `limit` of them).
    @inlinable @inline(__always)
    public static func arrayStorages<Element>(inArrayAt bits: UInt, of: Element.Type, offset: Int, lines: Int, limit: Int = 32) {
        precondition(offset >= 0 && offset + MemoryLayout<UInt>.size <= MemoryLayout<Element>.size, "a reference lies inside the element")
        forEachElement(inArrayAt: bits, of: Element.self, limit: limit) { object(bits: $0.load(fromByteOffset: offset, as: UInt.self), lines: lines) }
    }

    /// For the native array whose storage is at `bits` and already in the caches: asks for the
    /// storage of each string that lies at one of `offsets` in each of its elements (of type
    /// `Element`, at most `limit` of them). A string short enough to be held inline has no
    /// storage, and is skipped.
    @inlinable @inline(__always)
    public static func strings<Element>(inArrayAt bits: UInt, of: Element.Type, offsets: (Int, Int), limit: Int = 16) {
        forEachStringWord(inArrayAt: bits, of: Element.self, offsets: offsets, limit: limit) { string(objectWord: $0) }
    }

    /// Calls `body` with the second word of each string at one of `offsets` in each element
    /// of the native array whose storage is at `bits` (at most `limit` elements).
    @inlinable @inline(__always)
    public static func forEachStringWord<Element>(inArrayAt bits: UInt, of: Element.Type, offsets: (Int, Int), limit: Int = 16,
                                                  _ body: (UInt64) -> Void) {
        precondition(offsets.0 >= 0 && offsets.1 >= 0 && Swift.max(offsets.0, offsets.1) + 2 * MemoryLayout<UInt64>.size <= MemoryLayout<Element>.size,
                     "a string lies inside the element")
        forEachElement(inArrayAt: bits, of: Element.self, limit: limit) { element in
            body(element.load(fromByteOffset: offsets.0 + stringObjectWordOffset, as: UInt64.self))
            body(element.load(fromByteOffset: offsets.1 + stringObjectWordOffset, as: UInt64.self))
        }
    }

    /// Asks for the storage of the string whose second word is `word` (its header and first
    /// bytes); nothing for a string held inline.
    @inlinable @inline(__always)
    public static func string(objectWord word: UInt64) {
        if let address = stringStorage(objectWord: word) { object(bits: address, lines: 1) }
    }

    /// The address of the storage of the string whose second word is `word`: the word's low
    /// bits under four flags, of which bit 61 marks a string held inline (nil: no storage).
    @inlinable @inline(__always)
    public static func stringStorage(objectWord word: UInt64) -> UInt? {
        word & (1 << 61) == 0 ? UInt(word & 0x0FFF_FFFF_FFFF_FFFF) : nil
    }

    /// Where a string keeps the word ``stringStorage(objectWord:)`` reads.
    @usableFromInline static let stringObjectWordOffset = 8

    /// The address of the storage `string` keeps its bytes in, as the hints find it; nil for
    /// a string held inline.
    public static func storageAddress(of string: String) -> UInt? {
        stringStorage(objectWord: withUnsafeBytes(of: string) { $0.load(fromByteOffset: stringObjectWordOffset, as: UInt64.self) })
    }

    /// A native array's storage: an object's header (two words), the count, the capacity,
    /// then the elements.
    @usableFromInline static let arrayHeaderBytes = 32

    /// The count of the native array whose storage is at `bits`.
    @inlinable @inline(__always)
    public static func arrayCount(bits: UInt) -> Int {
        guard let storage = UnsafeRawPointer(bitPattern: bits) else { return 0 }
        return max(0, storage.load(fromByteOffset: 2 * MemoryLayout<Int>.size, as: Int.self))
    }

    /// Where the elements of the native array whose storage is at `bits` begin.
    @inlinable @inline(__always)
    public static func arrayElements(bits: UInt) -> UnsafeRawPointer? {
        UnsafeRawPointer(bitPattern: bits).map { $0 + arrayHeaderBytes }
    }
}
