import Synchronization

/// A token bucket per verifier token: `perMinute` claims a minute, refilled continuously,
/// at most a minute's worth saved up.
final class ClaimRateLimiter: Sendable {
    private struct Bucket { var tokens: Double; var updated: Int64 }
    private let buckets = Mutex<[String: Bucket]>([:])
    let perMinute: Int

    init(perMinute: Int) { self.perMinute = perMinute }

    /// Takes `cost` claims for `key` at `now` (microseconds).
    /// - Returns: nil when granted, else the whole seconds to wait before the same request
    ///   would be.
    func take(_ key: String, cost: Int, now: Int64) -> Int? {
        let capacity = Double(perMinute), perMicro = Double(perMinute) / 60_000_000
        return buckets.withLock { buckets in
            if buckets.count > 100_000 { buckets = buckets.filter { Double(now - $0.value.updated) * perMicro < capacity } }
            var b = buckets[key] ?? Bucket(tokens: capacity, updated: now)
            b.tokens = min(capacity, b.tokens + Double(max(0, now - b.updated)) * perMicro)
            b.updated = now
            defer { buckets[key] = b }
            guard b.tokens >= Double(cost) else {
                return max(1, Int(((Double(cost) - b.tokens) / perMicro / 1_000_000).rounded(.up)))
            }
            b.tokens -= Double(cost)
            return nil
        }
    }
}
