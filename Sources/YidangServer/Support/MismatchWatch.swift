import Synchronization

/// Counts verifications with a mismatch per subject in a sliding window: a burst of them
/// is how someone guesses a person's phone or address by trying values, so it is flagged.
final class MismatchWatch: Sendable {
    private struct Recent { var times: [Int64] = []; var callers: Set<String> = [] }
    private let recent = Mutex<[String: Recent]>([:])
    let threshold: Int
    let window: Int64

    init(threshold: Int, windowMinutes: Int) {
        self.threshold = threshold
        self.window = Int64(windowMinutes) * 60_000_000
    }

    /// Notes a verification with a mismatch on `subject` by `caller`.
    /// - Returns: the callers of the burst when this one makes `threshold` within the
    ///   window (the count then starts again), else nil.
    func note(subject: String, caller: String, now: Int64) -> [String]? {
        recent.withLock { recent in
            if recent.count > 100_000 { recent = recent.filter { ($0.value.times.last ?? 0) > now - window } }
            var r = recent[subject] ?? Recent()
            r.times.removeAll { $0 <= now - window }
            r.times.append(now)
            r.callers.insert(caller)
            guard r.times.count >= threshold else {
                recent[subject] = r
                return nil
            }
            recent[subject] = nil
            return r.callers.sorted()
        }
    }
}
