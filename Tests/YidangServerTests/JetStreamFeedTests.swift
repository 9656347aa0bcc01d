import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JSON
import NATS
import NIOCore
import Testing
import TestSupport
import YidangModel
@testable import YidangServer
@testable import YidangStore
@testable import YidangSync

/// The change feed on a real nats-server (JetStream, loopback): each change once per
/// clearance level that sees something, masked for it, on subjects that carry clearance,
/// kind and region; corrections to their department; resumed after a restart without
/// repeats.
@Suite(.serialized) struct JetStreamFeedTests {
    func messages(_ nats: NATSConnection) throws -> [(subject: String, event: JSONValue)] {
        let last = try nats.lastSequence(stream: JetStreamChangeFeed.streamName)
        guard last > 0 else { return [] }
        return try (1...last).map { seq in
            let m = try nats.message(stream: JetStreamChangeFeed.streamName, sequence: seq)
            return (m.subject, try JSONParser.parse(m.data))
        }
    }

    /// The stream's messages once the last one is of change `position`.
    func waitFor(position: UInt64, _ nats: NATSConnection) async throws -> [(subject: String, event: JSONValue)] {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            let all = try messages(nats)
            if let last = all.last?.event["position"]?.intValue, last >= position { return all }
            try await Task.sleep(for: .milliseconds(50))
        }
        return try messages(nats)
    }

    @Test func changesAreOnSubjectsByClearanceKindAndRegion() async throws {
        let server = try NATSServer()
        defer { server.stop() }
        let f = try Fixture()
        defer { f.hub.close() }
        var options = ServerOptions()
        options.changeStreamServers = [server.url]
        let nats = try NATSConnection(servers: [server.url], name: "test-reader")
        defer { nats.close() }
        try await f.run(options: options) { client in
            let events: [(String, JSONValue)] = [
                ("gongan", event("g-1", data: ["name": "张三", "regionCode": "330203", "residenceAddress": "宁波市海曙区中山西路1号"])),
                ("gongan", event("g-2", subject: "person/110105198001011238", data: ["name": "李四", "regionCode": "110105"])),
                ("admin", event("z-1", source: "zhujian", data: ["residenceAddress": "宁波市海曙区药行街2号"])),
            ]
            for (who, e) in events {
                #expect(try await client.execute(uri: "/v1/events", method: .post, headers: f.headers(who), body: body(e)).status == .created)
            }
            let resolved = try await client.execute(uri: "/v1/conflicts/1/resolve", method: .post, headers: f.headers("steward", "application/json"),
                                                    body: body(["action": "reject", "source": "zhujian"]))
            #expect(resolved.status == .ok)
            let head = try f.hub.reader.changeHead()
            let all = try await waitFor(position: head, nats)
            let subjects = all.map(\.subject)
            // In order, each change once per level: positions never go back.
            let positions = all.compactMap { $0.event["position"]?.intValue }
            #expect(positions == positions.sorted() && Set(positions) == Set(1...Int(head)))
            #expect(Set(all.map { "\($0.subject) \($0.event["position"]?.intValue ?? 0)" }).count == all.count)
            #expect(subjects.contains("yidang.changes.L2.person.33.3302.330203"))
            #expect(subjects.contains("yidang.changes.L4.person.11.1101.110105"))
            #expect(subjects.filter { $0.hasPrefix("yidang.corrections.") } == ["yidang.corrections.zhujian"])
            let first = all.filter { $0.event["position"]?.intValue == 1 }
            #expect(first.map(\.subject) == ["L1", "L2", "L3", "L4"].map { "yidang.changes.\($0).person.33.3302.330203" })
            let l2 = try #require(first.first { $0.subject.contains(".L2.") }?.event)
            #expect(l2["subject"] == "person/110105********002X")
            #expect(l2["type"] == "golden.changed")
            let l2Text = JSONWriter.serialize(l2)
            #expect(l2Text.contains("张三") && !l2Text.contains("中山西路"))
            let l4 = try #require(first.first { $0.subject.contains(".L4.") }?.event)
            #expect(JSONWriter.serialize(l4).contains("中山西路"))
            #expect(l4["subject"] == "person/11010519491231002X")
            let correction = try #require(all.first { $0.subject == "yidang.corrections.zhujian" }?.event)
            #expect(correction["type"] == "correction.requested")
            #expect(correction["data"]?["department"] == "zhujian")
        }
        let before = try messages(nats).count

        // A restart publishes the last change again (dropped by its ids) and then only what is new.
        let signal = ChangeFeedSignal(head: try f.hub.reader.changeHead())
        let again = try JetStreamChangeFeed(servers: [server.url], reader: f.hub.reader, signal: signal)
        let running = Task { await again.run() }
        let deadline = ContinuousClock.now + .seconds(20)
        let head = try f.hub.reader.changeHead()
        while await again.published < head, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(await again.published == head)
        #expect(try messages(nats).count == before)
        _ = try await f.hub.store.append([try f.hub.validator.validate(event("g-3", data: ["name": "张三", "phone": "13800138000"]),
                                                                       now: Timestamp.now())])
        signal.publish(try f.hub.reader.changeHead())
        let after = try await waitFor(position: head + 1, nats)   // phone is L3: L3 and L4 see this change
        #expect(after.count == before + 2)
        #expect(after.suffix(2).map(\.subject) == ["yidang.changes.L3.person.33.3302.330203", "yidang.changes.L4.person.33.3302.330203"])
        signal.close()
        running.cancel()
        _ = await running.value
        await again.close()
    }

    /// The NATS server is SIGKILLed and restarted while changes are being published: the
    /// stream ends up with every change of every level exactly once, in order.
    @Test func aNATSServerKilledMidLoadLosesAndRepeatsNothing() async throws {
        var server = try NATSServer()
        let hub = try Hub(directory: tempDir())
        defer { hub.close() }
        let signal = ChangeFeedSignal(head: 0)
        await hub.store.setChangeObserver { head in signal.publish(head) }
        let feed = try JetStreamChangeFeed(servers: [server.url], reader: hub.reader, signal: signal)
        let running = Task { await feed.run() }
        func append(_ range: Range<Int>) async throws {
            for n in range {
                let e = event("k-\(n)", subject: "person/" + citizen(n), data: ["name": .string("压测\(n)"), "regionCode": "330203"])
                _ = try await hub.store.append([try hub.validator.validate(e, now: Timestamp.now())])
            }
        }
        try await append(0..<150)
        server.stop()                                   // SIGKILL, changes still flowing in
        try await append(150..<250)
        server = try NATSServer(restarting: server)
        try await append(250..<300)
        let head = try hub.reader.changeHead()
        let deadline = ContinuousClock.now + .seconds(60)
        while await feed.published < head, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        #expect(await feed.published == head)
        let nats = try NATSConnection(servers: [server.url], name: "test-reader")
        defer { nats.close() }
        let stored = try messages(nats)
        let keys = stored.map { "\($0.event["position"]?.intValue ?? 0) \($0.subject)" }
        #expect(Set(keys).count == keys.count, "a message stored twice")
        let positions = stored.compactMap { $0.event["position"]?.intValue }
        #expect(positions == positions.sorted(), "out of order")
        #expect(Set(positions) == Set(1...Int(head)))
        #expect(stored.count == Int(head) * 4)          // name (L2) and region code (L1): every level sees each change
        signal.close()
        running.cancel()
        _ = await running.value
        await feed.close()
        server.stop()
    }
}

/// Departments publishing over NATS: kept by JetStream while the hub is down, consumed as
/// the department the subject names, through the same validation as HTTP.
@Suite(.serialized) struct NATSIngressTests {
    @Test func eventsPublishedWhileTheHubIsDownAreIngestedAsTheirSubjectsDepartment() async throws {
        let server = try NATSServer()
        defer { server.stop() }
        let f = try Fixture()
        defer { f.hub.close() }
        var options = ServerOptions()
        options.eventStreamServers = [server.url]
        try await f.run(options: options) { _ in }          // creates the stream and the hub's consumer, then stops

        let nats = try NATSConnection(servers: [server.url], name: "gongan-system")
        defer { nats.close() }
        let messages: [(String, [UInt8])] = [
            ("m1", JSONWriter.bytes(event("g-1", data: ["name": "张三", "gender": "1"]))),
            ("m2", JSONWriter.bytes(event("g-1", data: ["name": "张三", "gender": "1"]))),             // the same event again
            ("m3", JSONWriter.bytes(event("r-1", source: "renshe", data: ["name": "张叁"]))),          // claims another department
            ("m4", Array(#"{"specversion":"1.0","id":"#.utf8)),                                         // not JSON
            ("m5", JSONWriter.bytes(event("g-2", data: ["birthDate": "1949-02-30"]))),                 // not a real date
        ]
        for (id, body) in messages {
            let ack = try nats.publish(subject: "yidang.events.gongan", data: body, messageId: id)
            #expect(!ack.duplicate)
        }
        #expect(try f.hub.reader.headPosition() == 0)        // nothing ingested while the hub was down

        try await f.run(options: options) { client in
            let deadline = ContinuousClock.now + .seconds(30)
            var gongan: JSONValue?
            while ContinuousClock.now < deadline {
                let q = try json(try await client.execute(uri: "/v1/quality", method: .get, headers: f.headers("steward")))
                gongan = q["departments"]?.arrayValue?.first { $0["department"] == "gongan" }
                let rejected = (gongan?["rejected"]?.intValue ?? 0)
                if (gongan?["accepted"]?.intValue ?? 0) == 1 && rejected == 3 { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(gongan?["accepted"]?.intValue == 1)
            #expect(gongan?["rejected"]?.intValue == 3)
            #expect(gongan?["rejectedByReason"]?["forbidden-source"]?.intValue == 1)
            let record = try json(try await client.execute(uri: "/v1/persons/11010519491231002X", method: .get, headers: f.headers("reader")))
            #expect(record["attributes"]?["name"]?["value"] == "张三")
        }
        #expect(try f.hub.reader.headPosition() == 1)        // one event stored, once
        #expect(try f.hub.reader.position(source: "renshe", id: "r-1") == nil)
    }
}
