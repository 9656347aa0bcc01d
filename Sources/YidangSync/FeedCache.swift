import Foundation
import JSON
import YidangProjection
import YidangStore

/// Shared by every stream of one hub: recently committed change records, decoded once,
/// and their rendering per distinct subscription policy, so twenty subscribers with the
/// same rights cost one read and one render per change, not twenty.
public final class FeedCache: @unchecked Sendable {
    private let lock = NSLock()
    private var records: [UInt64: ChangeRecord] = [:]
    private var rendered: [String: [UInt64: JSONValue?]] = [:]
    private var frames: [String: [UInt64: String]] = [:]
    private let capacity: Int

    public init(capacity: Int = 50_000) { self.capacity = capacity }

    /// Change records after `after`, from the cache when it holds them, else from the store.
    func changes(_ reader: any StoreReaderProtocol, after: UInt64, limit: Int) throws -> [ChangeRecord] {
        var out: [ChangeRecord] = []
        lock.lock()
        var p = after + 1
        while out.count < limit, let r = records[p] { out.append(r); p += 1 }
        lock.unlock()
        if out.count == limit { return out }
        let fetched = try reader.changes(after: p - 1, limit: limit - out.count)
        if !fetched.isEmpty {
            lock.lock()
            if records.count + fetched.count > capacity {
                records.removeAll(keepingCapacity: true)
                rendered.removeAll(keepingCapacity: true)
                frames.removeAll(keepingCapacity: true)
            }
            for r in fetched { records[r.position] = r }
            lock.unlock()
        }
        return out + fetched
    }

    /// `render` memoized per policy key and position.
    func render(_ c: ChangeRecord, policy: String, _ body: () -> JSONValue?) -> JSONValue? {
        lock.lock()
        if let hit = rendered[policy]?[c.position] { lock.unlock(); return hit }
        lock.unlock()
        let v = body()
        lock.lock()
        rendered[policy, default: [:]][c.position] = .some(v)
        lock.unlock()
        return v
    }
}

extension FeedCache {
    /// The SSE frame of a rendered change, serialized once per policy and position.
    public func frame(policy: String, position: UInt64, _ body: () -> String) -> String {
        lock.lock()
        if let hit = frames[policy]?[position] { lock.unlock(); return hit }
        lock.unlock()
        let f = body()
        lock.lock()
        frames[policy, default: [:]][position] = f
        lock.unlock()
        return f
    }
}

extension Subscription {
    /// Everything that decides what this subscription sees of a change.
    public var policyKey: String {
        "\(kinds.map(\.rawValue).sorted())|\(attributes.sorted())|\(regions.sorted())|\(clearance.rawValue)|\(allow?.sorted() ?? ["*"])|\(ownerDepartment ?? "")"
    }
}
