import ArgumentParser
import AsyncHTTPClient
import Foundation
import Identifiers
import JSON
import NIOCore

/// Publish → SSE receive latency with N subscribers at a fixed publish rate (benchmark aid).
/// Each event id carries its send time; each subscriber measures when the change arrives.
struct SSEBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench-sse", abstract: "SSE latency benchmark (testing aid).",
                                                    shouldDisplay: false)
    @Option var server: String
    @Option(name: .customLong("publisher-token")) var publisherToken: String
    @Option(name: .customLong("subscriber-token")) var subscriberToken: String
    @Option var subscribers = 20
    @Option var rate = 5000
    @Option var seconds = 10

    func run() async throws {
        try await guarded {
            var config = HTTPClient.Configuration()
            config.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: subscribers + 8)
            let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: config)
            do {
                let result = try await measure(client)
                try await client.shutdown()
                print(result)
            } catch {
                try? await client.shutdown()
                throw error
            }
        }
    }

    static func nowNanos() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    func measure(_ client: HTTPClient) async throws -> String {
        // One subscription per subscriber, starting now.
        var ids: [String] = []
        for i in 0..<subscribers {
            var req = HTTPClientRequest(url: server + "/v1/subscriptions")
            req.method = .POST
            req.headers.add(name: "authorization", value: "Bearer \(subscriberToken)")
            req.headers.add(name: "content-type", value: "application/json")
            req.body = .bytes(ByteBuffer(string: #"{"name":"bench-\#(i)","start":"now"}"#))
            let r = try await client.execute(req, timeout: .seconds(10))
            let body = try await r.body.collect(upTo: 1 << 20)
            guard let id = (try? JSONParser.parse(Array(body.readableBytesView)))?["id"]?.stringValue else {
                throw CLIError.failure("cannot create subscription: HTTP \(r.status.code)")
            }
            ids.append(id)
        }
        let latencies = LatencyLog()
        let expected = rate * seconds
        let receivers = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for id in ids {
                    group.addTask {
                        var req = HTTPClientRequest(url: server + "/v1/changes?subscription=\(id)")
                        req.headers.add(name: "authorization", value: "Bearer \(subscriberToken)")
                        req.headers.add(name: "accept", value: "text/event-stream")
                        let r = try await client.execute(req, timeout: .seconds(Int64(seconds + 60)))
                        var pending = ""
                        var seen = 0
                        for try await chunk in r.body {
                            pending += String(buffer: chunk)
                            while let range = pending.range(of: "\n\n") {
                                let frame = pending[..<range.lowerBound]
                                pending.removeSubrange(..<range.upperBound)
                                // Cheap scan for "eventIds":["sse-<nanos>-…": the client must not be the bottleneck.
                                guard let mark = frame.range(of: "\"eventIds\":[\"sse-") else { continue }
                                let digits = frame[mark.upperBound...].prefix { $0.isNumber }
                                guard let sent = UInt64(digits) else { continue }
                                latencies.add(SSEBenchCommand.nowNanos() - sent)
                                seen += 1
                            }
                            if seen >= expected { return }
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        try await Task.sleep(for: .milliseconds(500))
        // Publish `rate` events per second in 10 ms ticks.
        let perTick = max(1, rate / 100)
        let start = SSEBenchCommand.nowNanos()
        var sent = 0
        var tick = 0
        var inflight: [Task<Void, any Error>] = []
        while sent < expected {
            var lines: [String] = []
            for _ in 0..<min(perTick, expected - sent) {
                let n = 800_000_000 + Int(start % 1_000_000) * 1000 + sent
                let id = CitizenID.make(region: "330203", birth: String(format: "19%02d%02d%02d", 50 + n % 50, 1 + n / 50 % 12, 1 + n / 600 % 28),
                                        sequence: n / 16_800 % 1000)
                lines.append(#"{"specversion":"1.0","id":"sse-\#(SSEBenchCommand.nowNanos())-\#(sent)","source":"gongan","type":"person.updated","subject":"person/\#(id)","time":"2026-11-20T08:00:00+08:00","data":{"name":"延迟\#(sent)","regionCode":"330203"}}"#)
                sent += 1
            }
            var req = HTTPClientRequest(url: server + "/v1/events")
            req.method = .POST
            req.headers.add(name: "authorization", value: "Bearer \(publisherToken)")
            req.headers.add(name: "content-type", value: "application/x-ndjson")
            req.body = .bytes(ByteBuffer(string: lines.joined(separator: "\n")))
            // Keep the rate: publish without waiting for each answer (at most 16 in flight).
            let request = req
            inflight.append(Task { _ = try await client.execute(request, timeout: .seconds(30)).body.collect(upTo: 1 << 24) })
            if inflight.count >= 16 { try await inflight.removeFirst().value }
            tick += 1
            let due = start + UInt64(tick) * 10_000_000
            let now = SSEBenchCommand.nowNanos()
            if due > now { try await Task.sleep(for: .nanoseconds(Int64(due - now))) }
        }
        for t in inflight { try await t.value }
        let publishSeconds = Double(SSEBenchCommand.nowNanos() - start) / 1e9
        let deadline = SSEBenchCommand.nowNanos() + 10_000_000_000
        while latencies.count < expected * subscribers && SSEBenchCommand.nowNanos() < deadline { try await Task.sleep(for: .milliseconds(50)) }
        receivers.cancel()
        let v = latencies.sorted
        func pct(_ p: Double) -> Double { v.isEmpty ? 0 : Double(v[min(v.count - 1, Int(Double(v.count) * p))]) / 1e6 }
        return String(format: "subscribers %d, published %d events in %.2f s (%.0f events/s), received %d of %d; latency ms p50 %.2f p99 %.2f max %.2f",
                      subscribers, sent, publishSeconds, Double(sent) / publishSeconds, v.count, expected * subscribers, pct(0.5), pct(0.99), pct(1.0))
    }
}

final class LatencyLog: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [UInt64] = []
    func add(_ v: UInt64) { lock.lock(); values.append(v); lock.unlock() }
    var count: Int { lock.lock(); defer { lock.unlock() }; return values.count }
    var sorted: [UInt64] { lock.lock(); defer { lock.unlock() }; return values.sorted() }
}

extension Array {
    subscript(safe i: Int) -> Element? { indices.contains(i) ? self[i] : nil }
}
