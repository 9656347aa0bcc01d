import Crypto
import Foundation
import Synchronization
import JSON
import YidangProjection
import YidangStore

/// Shared by every stream of one hub: recently committed change records, decoded once,
/// and their rendering per distinct subscription policy, so twenty subscribers with the
/// same rights cost one read and one render per change, not twenty.
public final class FeedCache: Sendable {
    /// One change position's entry: the decoded record and, per subscription policy, its
    /// rendering and SSE frame. Positions are dense, so the cache is a ring indexed by
    /// position: no hashing, no rehash pauses as it grows, and the oldest entries are
    /// overwritten one by one.
    private struct Slot {
        var position: UInt64 = 0
        var record: ChangeRecord?
        var views: [View] = []
    }
    private struct View {
        var policy: Int
        /// nil: not rendered yet; .some(nil): nothing visible.
        var rendered: JSONValue??
        /// The SSE frame; nil: not made yet; .some(nil): nothing visible.
        var frame: String??
    }
    private struct State {
        var slots: [Slot]
        var policies: [String: Policy] = [:]

        func index(_ p: UInt64) -> Int { Int(p % UInt64(slots.count)) }

        /// Reads or fills the view of `position` for `policy`.
        mutating func withView<T>(_ position: UInt64, policy: Policy, _ body: (inout View) -> T) -> T? {
            let i = index(position)
            guard slots[i].position == position else { return nil }
            let p = policy.index
            if let v = slots[i].views.firstIndex(where: { $0.policy == p }) { return body(&slots[i].views[v]) }
            slots[i].views.append(View(policy: p))
            return body(&slots[i].views[slots[i].views.count - 1])
        }
    }
    private let state: Mutex<State>
    /// Held while a stream makes missing frames (see ``frames(_:after:limit:scanLimit:policy:make:)``).
    private let making = Mutex<Void>(())
    /// The committed change head, when known: nothing past it is read from the store.
    private let head: (@Sendable () -> UInt64)?

    /// - Parameters:
    ///   - capacity: change positions held (the most recent ones read).
    ///   - head: the committed change-feed head (``ChangeFeedSignal/head``); with it, a
    ///     reader that has caught up costs no store read until the next commit.
    public init(capacity: Int = 65_536, head: (@Sendable () -> UInt64)? = nil) {
        state = Mutex(State(slots: Array(repeating: Slot(), count: max(1, capacity))))
        self.head = head
    }

    /// Change records after `after`, from the cache when it holds them, else from the store.
    func changes(_ reader: any StoreReaderProtocol, after: UInt64, limit: Int) throws -> [ChangeRecord] {
        let (out, p) = state.withLock { s -> ([ChangeRecord], UInt64) in
            var out: [ChangeRecord] = []
            var p = after + 1
            while out.count < limit {
                let slot = s.slots[s.index(p)]
                guard slot.position == p, let r = slot.record else { break }
                out.append(r)
                p += 1
            }
            return (out, p)
        }
        if out.count == limit { return out }
        if let head, p > head() { return out }
        let fetched = try reader.changes(after: p - 1, limit: limit - out.count)
        if !fetched.isEmpty {
            state.withLock { s in
                for r in fetched {
                    let i = s.index(r.position)
                    if s.slots[i].position != r.position { s.slots[i] = Slot(position: r.position, record: r) }
                }
            }
        }
        return out + fetched
    }

    /// A subscription policy as the cache knows it: numbered in the order first seen, with
    /// its view tag (``Subscription/viewTag``).
    public struct Policy: Sendable {
        let index: Int
        public let tag: String
    }

    /// The policy of `s`: numbered, and its view tag hashed, once per distinct
    /// ``Subscription/policyKey``. A stream asks once per page; each change of the page is
    /// then found by number (twenty streams at 5,000 changes a second hashed the long key
    /// for every change, and SHA-256 for every page).
    public func policy(of s: Subscription) -> Policy { policy(key: s.policyKey) }

    func policy(key: String) -> Policy {
        state.withLock { s in
            if let p = s.policies[key] { return p }
            let p = Policy(index: s.policies.count, tag: Subscription.viewTag(ofPolicy: key))
            s.policies[key] = p
            return p
        }
    }

    /// `render` memoized per policy and position (rendered outside the lock).
    func render(_ c: ChangeRecord, policy: Policy, _ body: () -> JSONValue?) -> JSONValue? {
        if let hit = state.withLock({ $0.withView(c.position, policy: policy, { $0.rendered }) }) ?? nil { return hit }
        let v = body()
        state.withLock { _ = $0.withView(c.position, policy: policy) { $0.rendered = .some(v) } }
        return v
    }

    /// The SSE frames `policy` sees after `after`: at most `limit` of them, scanning at most
    /// `scanLimit` change records, joined in position order, with their number and the last
    /// position scanned (a caller continuing from it skips nothing and repeats nothing).
    ///
    /// Each frame is made by `make` (nil: nothing visible) once per policy and position,
    /// outside the cache's lock and by one stream at a time; a page of frames already made
    /// costs two locks, whatever its length.
    /// Twenty streams of one policy at 5,000 changes a second made a lookup of the rendering
    /// and another of the frame for each change, each under the lock.
    func frames(_ reader: any StoreReaderProtocol, after: UInt64, limit: Int, scanLimit: Int, policy: Policy,
                make: (ChangeRecord) -> String?) throws -> (frames: String, count: Int, next: UInt64) {
        var out = ""
        var count = 0
        var next = after
        var scanned = 0
        while count < limit && scanned < scanLimit {
            let batch = try changes(reader, after: next, limit: min(1000, scanLimit - scanned))
            if batch.isEmpty { break }
            let lookUp = { self.state.withLock { s in batch.map { c in s.withView(c.position, policy: policy) { $0.frame } ?? nil } } }
            var found = lookUp()
            // Made up to the page's last frame, not past it; returns where the page ends.
            func makeMissing() -> Int {
                var made: [(position: UInt64, frame: String?)] = []
                var end = batch.count
                var visible = count
                for i in batch.indices {
                    if found[i] == nil {
                        let frame = make(batch[i])
                        found[i] = .some(frame)
                        made.append((batch[i].position, frame))
                    }
                    if case .some(.some) = found[i] {
                        visible += 1
                        if visible >= limit { end = i + 1; break }
                    }
                }
                if !made.isEmpty {
                    state.withLock { s in for m in made { _ = s.withView(m.position, policy: policy) { $0.frame = .some(m.frame) } } }
                }
                return end
            }
            // Streams woken by one commit miss the same frames at once: one makes them while
            // the others wait, then find them made (two streams making each frame at once made
            // 1.77 frames per change at 5,000 changes a second).
            let end = found.contains(where: { $0 == nil })
                ? making.withLock { _ in found = lookUp(); return makeMissing() }
                : makeMissing()
            for i in 0..<end {
                scanned += 1
                next = batch[i].position
                if case .some(.some(let frame)) = found[i] {
                    out += frame
                    count += 1
                }
            }
        }
        return (out, count, next)
    }
}

extension Subscription {
    /// A short tag of ``policyKey``: the part of a change's CloudEvent id that names the view.
    public var viewTag: String { Self.viewTag(ofPolicy: policyKey) }

    static func viewTag(ofPolicy key: String) -> String {
        Hex.encode(SHA256.hash(data: Array(key.utf8)).prefix(6))
    }

    /// Everything that decides what this subscription sees of a change.
    public var policyKey: String {
        "\(kinds.map(\.rawValue).sorted())|\(attributes.sorted())|\(regions.sorted())|\(clearance.rawValue)|\(allow?.sorted() ?? ["*"])|\(ownerDepartment ?? "")"
    }
}
