/// Which keys of one kind a live store may hold (its idempotency keys, its golden records),
/// so that the writer reads only those: a key the filter has never seen is not stored.
///
/// A bulk request's new events, and its new subjects, then need no lookup in RocksDB.
///
/// Guarantees: ``mayBeStored(_:)`` is true for every key of the kind in the store, as long as
/// every key the writer writes is noted (``noteStored(_:)``) from the moment the filter is
/// made. It is complete from the start for a store that held no events then; for any other
/// store, once a census of the stored keys, read after that moment, is adopted
/// (``complete(with:)``); until then every key may be stored. A key deleted since stays
/// "maybe", which costs only the lookup.
struct KeyExistence<Element: Hashable> {
    private var filter: MembershipFilter<Element>
    /// Whether every stored key is in the filter.
    private(set) var isComplete: Bool

    /// - Parameters:
    ///   - complete: whether the store holds no key of the kind yet.
    ///   - capacity: keys the first filter holds at about 1 % false positives (it grows).
    init(complete: Bool, capacity: Int) {
        filter = MembershipFilter(capacity: capacity)
        isComplete = complete
    }

    /// Whether `element` may be stored (false: it certainly is not).
    func mayBeStored(_ element: Element) -> Bool { !isComplete || filter.mayContain(element) }

    /// Notes a key written (or about to be: a failed write leaves a harmless "maybe").
    mutating func noteStored(_ element: Element) { filter.insert(element) }

    /// Adopts a census of the stored keys, read after this filter was made: with the keys
    /// noted since, it holds every stored key.
    mutating func complete(with census: consuming MembershipFilter<Element>) {
        census.formUnion(filter)
        filter = census
        isComplete = true
    }
}
