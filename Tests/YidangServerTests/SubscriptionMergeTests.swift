import Testing
import YidangStore
@testable import YidangSync

/// How a cluster replica merges two nodes' updates of one subscription
/// (``SubscriptionStore/merged(stored:incoming:)``): the later entry's state, with the
/// cursor and the delivery count never moving back.
@Suite struct SubscriptionMergeTests {
    @Test func aStaleUpdateKeepsTheFurthestCursorAndItsOwnState() throws {
        let hub = try Hub(directory: tempDir())
        defer { hub.close() }
        let store = try SubscriptionStore(hub: hub)
        var ahead = Subscription(id: "sub_1", name: "grid", owner: "网格")
        ahead.cursor = 40
        ahead.deliveries = 12
        // Another node, its cache behind, pauses the subscription with the cursor it knew.
        var stale = ahead
        stale.cursor = 25
        stale.deliveries = 7
        stale.status = .paused
        stale.failures = 8
        let merged = try SubscriptionStore.decode(try store.merged(stored: SubscriptionStore.encode(ahead), incoming: SubscriptionStore.encode(stale)))
        #expect(merged.cursor == 40)
        #expect(merged.deliveries == 12)
        #expect(merged.status == .paused && merged.failures == 8)
        // An update that moves further wins outright.
        var further = ahead
        further.cursor = 55
        let moved = try SubscriptionStore.decode(try store.merged(stored: SubscriptionStore.encode(ahead), incoming: SubscriptionStore.encode(further)))
        #expect(moved.cursor == 55)
    }
}
