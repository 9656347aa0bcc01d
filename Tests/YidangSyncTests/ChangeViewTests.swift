import JSON
import Testing
import YidangModel
@testable import YidangProjection
@testable import YidangSync

@Suite struct ChangeViewTests {
    let view = ChangeView(configuration: .default)
    let person = Subject(kind: .person, id: "11010519491231002X")

    func change(_ changes: [AttributeChange], region: String? = "110105") -> ChangeRecord {
        var c = ChangeRecord(kind: .golden, logPosition: 7, subject: person, version: 2, time: 0)
        c.position = 9
        c.regionCode = region
        c.changes = changes
        c.eventIds = ["e1"]
        return c
    }
    func sub(clearance: Sensitivity = .L2, allow: [String]? = nil, attributes: [String] = [], regions: [String] = [],
             kinds: [EntityKind] = [], department: String? = nil) -> Subscription {
        var s = Subscription(id: "s", name: "n", owner: "o")
        s.clearance = clearance; s.allow = allow; s.attributes = attributes; s.regions = regions; s.kinds = kinds
        s.ownerDepartment = department
        return s
    }
    let name = AttributeChange(attribute: "name", old: "张叁", new: "张三", oldSource: "renshe", source: "gongan", conflict: false)
    let birth = AttributeChange(attribute: "birthDate", old: "1949-12-30", new: "1949-12-31", oldSource: "gongan", source: "gongan", conflict: false)

    @Test func clearanceDropsSensitiveAttributesAndMasksTheSubject() throws {
        let low = try #require(view.render(change([name, birth]), for: sub(clearance: .L2)))
        let text = JSONWriter.serialize(low)
        #expect(low["subject"] == "person/110105********002X")
        #expect(!text.contains("1949-12-3"))                       // neither old nor new leaks
        #expect(low["data"]?["subject"] == "person/110105********002X")
        #expect(low["data"]?["changes"]?.arrayValue?.count == 1)
        let high = try #require(view.render(change([name, birth]), for: sub(clearance: .L3)))
        #expect(high["subject"] == "person/11010519491231002X")
        #expect(high["data"]?["changes"]?.arrayValue?.count == 2)
        // One change, two views: two CloudEvent ids; the same view twice: the same id.
        #expect(low["id"] != high["id"])
        #expect(view.render(change([name, birth]), for: sub(clearance: .L2))?["id"] == low["id"])
    }

    @Test func nothingVisibleMeansNotDelivered() {
        #expect(view.render(change([birth]), for: sub(clearance: .L2)) == nil)
        #expect(view.render(change([name]), for: sub(allow: ["phone"])) == nil)
        #expect(view.render(change([name]), for: sub(attributes: ["phone"])) == nil)
        // a flag-only change (conflict opened) is steward business
        let flag = AttributeChange(attribute: "name", old: "张三", new: "张三", oldSource: "gongan", source: "gongan", conflict: true)
        #expect(view.render(change([flag]), for: sub()) == nil)
    }

    @Test func regionAndKindFilters() {
        #expect(view.render(change([name], region: "110105"), for: sub(regions: ["1101"])) != nil)
        #expect(view.render(change([name], region: "330203"), for: sub(regions: ["1101"])) == nil)
        #expect(view.render(change([name], region: nil), for: sub(regions: ["1101"])) == nil)
        #expect(view.render(change([name]), for: sub(kinds: [.enterprise])) == nil)
    }

    /// The envelope of a change outside the hub: a CloudEvent in structured JSON.
    @Test func aChangeTravelsAsACloudEvent() throws {
        let c = change([name])
        let v = try #require(view.render(c, for: sub(clearance: .L2)))
        #expect(v["specversion"] == "1.0")
        #expect(v["type"] == "golden.changed")
        #expect(v["source"] == .string(ChangeView.hubSource))
        #expect(v["subject"] == "person/110105********002X")
        #expect(v["datacontenttype"] == "application/json")
        #expect(v["position"]?.intValue == Int(c.position))
        #expect(v["id"]?.stringValue?.hasPrefix("\(c.position)-") == true)
        #expect(v["time"] == v["data"]?["time"])
        #expect(v["data"]?["changes"]?.arrayValue?.first?["new"] == "张三")
    }

    @Test func identifiersAboveClearanceAreMaskedNotDropped() throws {
        var c = ChangeRecord(kind: .golden, logPosition: 1, subject: Subject(kind: .enterprise, id: "91310115MA1K3BTP2B"), version: 1, time: 0)
        c.changes = [AttributeChange(attribute: "legalRepresentative", old: nil, new: "11010519491231002X", oldSource: nil, source: "scjg", conflict: false)]
        let v = try #require(view.render(c, for: sub(clearance: .L1)))
        #expect(v["subject"] == "enterprise/91310115MA1K3BTP2B")
        #expect(v["data"]?["changes"]?.arrayValue?.first?["new"] == "110105********002X")
    }

    @Test func correctionNoticesGoOnlyToTheAddressedDepartment() throws {
        var n = ChangeRecord(kind: .correction, logPosition: 3, subject: person, version: 1, time: 0)
        n.department = "renshe"; n.attribute = "name"; n.conflictId = 4; n.rejectedValue = "张叁"
        #expect(view.render(n, for: sub(department: "gongan")) == nil)
        #expect(view.render(n, for: sub()) == nil)
        let v = try #require(view.render(n, for: sub(department: "renshe")))
        #expect(v["type"] == "correction.requested")
        #expect(v["data"]?["rejectedValue"] == "张叁")
    }

    @Test func signaturesFollowStandardWebhooks() throws {
        // Standard Webhooks reference vector (secret, id, timestamp, payload → signature).
        let signer = try #require(WebhookSigner(secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"))
        let body = Array(#"{"test": 2432232314}"#.utf8)
        #expect(signer.signature(id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1614265330, body: body)
                == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        #expect(signer.verify(id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1614265330, body: body,
                              header: "v1,bm9ldHUjKzFob2VudXRob2VodWUzMjRvdWVvdW9ldQo= v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="))
        #expect(WebhookSigner(secret: "nope") == nil)
    }

    @Test func signalWakesWaitersAndTimesOut() async {
        let signal = ChangeFeedSignal(head: 5)
        #expect(await signal.wait(after: 4, timeout: .seconds(5)))
        #expect(await signal.wait(after: 5, timeout: .milliseconds(20)) == false)
        async let woke = signal.wait(after: 5, timeout: .seconds(5))
        try? await Task.sleep(for: .milliseconds(20))
        signal.publish(6)
        #expect(await woke)
        signal.close()
        #expect(await signal.wait(after: 6, timeout: .seconds(5)) == false)
    }

    /// Timeouts are kept by one shared timer: each wait times out by its own deadline (a
    /// tick late at most), not with the others, and a cancelled one ends at once.
    ///
    /// The timer is a task, so it runs late while other tests hold every thread of the
    /// concurrency pool (two cores; tests that block on RocksDB). The short wait then ends
    /// only when the timer runs, and a long wait past its own deadline by then ends with it,
    /// timed out, before the commit below could wake it: with its deadline at 30 s, two tests
    /// each blocking a pool thread for 35 s made it fail so (as it failed once in a full run
    /// beside a profiler). Its deadline is now one no run reaches; the time limit turns a
    /// wait that is never woken into a failure rather than a hang.
    @Test(.timeLimit(.minutes(3))) func manyWaitsTimeOutEachByItsDeadline() async {
        let signal = ChangeFeedSignal(head: 1)
        let clock = ContinuousClock()
        let started = clock.now
        async let short = signal.wait(after: 1, timeout: .milliseconds(60))
        async let long = signal.wait(after: 1, timeout: .seconds(3_600))
        #expect(await short == false)
        #expect(clock.now - started >= .milliseconds(60))
        // Still waiting when the short one timed out: woken by the commit, not timed out.
        signal.publish(2)
        #expect(await long)
        // Cancelled: ends at once, without waiting for its deadline.
        let waiting = Task { await signal.wait(after: 2, timeout: .seconds(30)) }
        try? await Task.sleep(for: .milliseconds(20))
        waiting.cancel()
        let cancelledAt = clock.now
        #expect(await waiting.value == false)
        #expect(clock.now - cancelledAt < .seconds(5))
    }
}

/// A change feed in memory that counts the store reads the cache makes.
final class CountingFeed: StoreReaderProtocol, @unchecked Sendable {
    var records: [ChangeRecord] = []
    var reads = 0
    func changes(after: UInt64, limit: Int) throws -> [ChangeRecord] {
        reads += 1
        return Array(records.filter { $0.position > after }.prefix(limit))
    }
    func add(_ n: Int) {
        for _ in 0..<n {
            var c = ChangeRecord(kind: .golden, logPosition: UInt64(records.count + 1),
                                 subject: Subject(kind: .person, id: "11010519491231002X"), version: 1, time: 0)
            c.position = UInt64(records.count + 1)
            records.append(c)
        }
    }
}

@Suite struct FeedCacheTests {
    @Test func aCaughtUpReaderCostsNoStoreReadAndOldPositionsAreOverwritten() throws {
        let feed = CountingFeed()
        feed.add(10)
        final class Head: @unchecked Sendable { var value: UInt64 = 10 }
        let head = Head()
        let cache = FeedCache(capacity: 8, head: { head.value })
        #expect(try cache.changes(feed, after: 0, limit: 100).map(\.position) == Array(1...10))
        #expect(feed.reads == 1)
        // Caught up: nothing past the committed head is read from the store.
        #expect(try cache.changes(feed, after: 10, limit: 100).isEmpty)
        #expect(feed.reads == 1)
        // Positions 3…10 are still cached (capacity 8); 1 and 2 were overwritten.
        #expect(try cache.changes(feed, after: 2, limit: 100).map(\.position) == Array(3...10))
        #expect(feed.reads == 1)
        #expect(try cache.changes(feed, after: 0, limit: 3).map(\.position) == [1, 2, 3])
        #expect(feed.reads == 2)
        feed.add(5)
        head.value = 15
        #expect(try cache.changes(feed, after: 10, limit: 100).map(\.position) == Array(11...15))
        // Renderings are memoized per policy and position, and dropped with their slot.
        var renders = 0
        let c = feed.records[14]
        let a = cache.policy(key: "a"), b = cache.policy(key: "b")
        #expect(cache.policy(key: "a").index == a.index && a.index != b.index)
        #expect(a.tag == Subscription.viewTag(ofPolicy: "a"))
        _ = cache.render(c, policy: a) { renders += 1; return "x" }
        _ = cache.render(c, policy: a) { renders += 1; return "x" }
        _ = cache.render(c, policy: b) { renders += 1; return nil }
        #expect(cache.render(c, policy: b) { renders += 1; return "y" } == nil)
        #expect(renders == 2)
    }

    /// A page of frames: each made once per policy and position (a second stream of the policy
    /// makes none), none made past the page's last, changes nothing may see skipped, and
    /// `next` the last position scanned.
    @Test func framesAreMadeOncePerPolicyAndPagedLikeChanges() throws {
        let feed = CountingFeed()
        feed.add(10)
        let cache = FeedCache(capacity: 64, head: { 10 })
        let a = cache.policy(key: "a"), b = cache.policy(key: "b")
        var made = 0
        let make: (ChangeRecord) -> String? = { c in
            made += 1
            return c.position % 3 == 0 ? nil : "f\(c.position);"
        }
        let first = try cache.frames(feed, after: 0, limit: 4, scanLimit: 100, policy: a, make: make)
        #expect(first.frames == "f1;f2;f4;f5;" && first.count == 4 && first.next == 5)
        #expect(made == 5)
        let rest = try cache.frames(feed, after: first.next, limit: 100, scanLimit: 100, policy: a, make: make)
        #expect(rest.frames == "f7;f8;f10;" && rest.count == 3 && rest.next == 10)
        #expect(made == 10)
        let again = try cache.frames(feed, after: 0, limit: 100, scanLimit: 100, policy: a, make: make)
        #expect(again.frames == "f1;f2;f4;f5;f7;f8;f10;" && again.next == 10)
        #expect(made == 10)
        // Another policy has frames of its own.
        _ = try cache.frames(feed, after: 0, limit: 100, scanLimit: 100, policy: b) { _ in made += 1; return "b;" }
        #expect(made == 20)
        // The scan is bounded: nothing visible in it, and `next` still moves past it.
        let scan = try cache.frames(feed, after: 2, limit: 100, scanLimit: 1, policy: a, make: make)
        #expect(scan.count == 0 && scan.frames.isEmpty && scan.next == 3)
    }
}
