import JSON
import YidangStore

/// The one way the change feed is read for a subscription, whatever carries it (SSE, the
/// long-poll page, a push transport): page from a cursor through the subscription's policy,
/// wait for the head to move, advance the durable cursor.
///
/// Guarantees: a page continued from its `next` skips nothing and repeats nothing; changes a
/// subscription may not see are skipped, never delivered; a cursor only moves forward and
/// never past the head.
public struct ChangeFeedReader: Sendable {
    public let reader: StoreReader
    public let subscriptions: SubscriptionStore
    public let signal: ChangeFeedSignal
    public let view: ChangeView
    /// Shared by every stream of the hub (renderings per policy); nil reads the store.
    public let cache: FeedCache?
    /// How long an ack past this node's head waits for the node to get there (a cluster
    /// node a few entries behind the one that served the page) before it is refused.
    public let ackPatience: Duration

    public init(reader: StoreReader, subscriptions: SubscriptionStore, signal: ChangeFeedSignal, cache: FeedCache? = nil,
                ackPatience: Duration = .zero) {
        self.ackPatience = ackPatience
        self.reader = reader
        self.subscriptions = subscriptions
        self.signal = signal
        self.view = ChangeView(configuration: reader.configuration)
        self.cache = cache
    }

    /// The committed change head.
    public var head: UInt64 { signal.head }

    /// The next changes `s` may see after `after` (at most `limit`), as CloudEvents, and the
    /// last position scanned.
    /// - Throws: when the store cannot be read.
    public func page(for s: Subscription, after: UInt64, limit: Int) throws -> (items: [JSONValue], next: UInt64) {
        try view.page(reader, for: s, after: after, limit: limit, cache: cache)
    }

    /// The same page as SSE frames, joined, with their number (see ``ChangeView/framePage(_:for:after:limit:scanLimit:cache:)``).
    /// - Throws: when the store cannot be read.
    public func framePage(for s: Subscription, after: UInt64, limit: Int) throws -> (frames: String, count: Int, next: UInt64) {
        try view.framePage(reader, for: s, after: after, limit: limit, cache: cache)
    }

    /// Waits until the head passes `position` (true), or `timeout` elapses or the feed
    /// closes (false).
    public func waitForChanges(after position: UInt64, timeout: Duration) async -> Bool {
        await signal.wait(after: position, timeout: timeout)
    }

    /// Moves subscription `id`'s durable cursor forward to `position` (never back), with
    /// `change` applied to its delivery state in the same write.
    /// - Throws: ``CursorError/pastHead`` for a position past the head, or the write's error.
    @discardableResult
    public func advance(_ id: String, to position: UInt64, _ change: (inout Subscription) -> Void = { _ in }) async throws -> Subscription? {
        var head = try reader.changeHead()
        if position > head && ackPatience > .zero {
            _ = await signal.wait(after: position - 1, timeout: ackPatience)
            head = try reader.changeHead()
        }
        guard position <= head else { throw CursorError.pastHead(position: position, head: head) }
        return try await subscriptions.update(id) { s in
            if position > s.cursor { s.cursor = position }
            change(&s)
        }
    }
}

/// A cursor that cannot be moved.
public enum CursorError: Error, Sendable, CustomStringConvertible {
    case pastHead(position: UInt64, head: UInt64)
    public var description: String {
        switch self {
        case let .pastHead(position, head): return "position \(position) is past the head \(head)"
        }
    }
}
