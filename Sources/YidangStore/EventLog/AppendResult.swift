import YidangModel

/// The fate of one event offered to the log.
public enum AppendResult: Sendable, Hashable {
    /// Stored at this global position.
    case accepted(position: UInt64)
    /// (`source`, `id`) was already stored at this position; nothing was written.
    case duplicate(position: UInt64)
    /// Refused; nothing was written.
    case rejected(EventRejection)

    public var position: UInt64? {
        switch self {
        case .accepted(let p), .duplicate(let p): return p
        case .rejected: return nil
        }
    }
}
