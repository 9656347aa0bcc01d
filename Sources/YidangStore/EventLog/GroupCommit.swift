/// What the writer tells its commit observer of a group once it is durable: the two serial
/// stages every accepted event passes, and how long each took for this group. Under a load
/// their sums over a window say how busy each stage was, and so which one a faster hub
/// needs first (docs/ARCHITECTURE.md, "The writer").
public struct GroupCommit: Sendable, Hashable {
    /// Events the group stored.
    public var events: Int
    /// Seconds the writer spent building the group: looking up its events' ids and golden
    /// records and folding its events into the projection.
    public var buildSeconds: Double
    /// Seconds the commit thread spent writing it: the synced write (or the ingest of a bulk
    /// load's table files), and the wait for its records' encoding when that, begun beside
    /// the write before, had not ended yet.
    public var writeSeconds: Double

    public init(events: Int, buildSeconds: Double, writeSeconds: Double) {
        self.events = events
        self.buildSeconds = buildSeconds
        self.writeSeconds = writeSeconds
    }
}
