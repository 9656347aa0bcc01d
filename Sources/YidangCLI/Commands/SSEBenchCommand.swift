import ArgumentParser
import AsyncHTTPClient
import Foundation
import Synchronization
import Identifiers
import JSON
import NIOCore
import YidangStore

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
    @Option(help: "Seconds published before measuring (connections, caches and the commit pipeline warm up).")
    var warmup = 1
    @Option(help: "Write the worst latency of each 100 ms of the run to this file (diagnosis).")
    var timeline: String?

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
                try? await client.shutdown()   // the benchmark's own error is the one to report
                throw error
            }
        }
    }

    static func nowNanos() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    /// The server's commit-duration histogram (`yidang_commit_seconds` on `/metrics`).
    func commitHistogram(_ client: HTTPClient) async throws -> CommitHistogram {
        let r = try await client.execute(HTTPClientRequest(url: server + "/metrics"), timeout: .seconds(10))
        guard r.status == .ok else { throw CLIError.failure("cannot read the server's metrics: HTTP \(r.status.code)") }
        let body = try await r.body.collect(upTo: 1 << 24)
        return CommitHistogram(prometheusText: String(buffer: body))
    }

    /// Not String(format:): a few percent of the generator's CPU at 5,000 events/s.
    static func twoDigits(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }

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
            // An answer that is not JSON is reported below with its status.
            guard let id = (try? JSONParser.parse(Array(body.readableBytesView)))?["id"]?.stringValue else {
                throw CLIError.failure("cannot create subscription: HTTP \(r.status.code)")
            }
            ids.append(id)
        }
        let expected = rate * seconds
        let latencies = LatencyLog(expected: expected * subscribers)
        let receivers = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for id in ids {
                    group.addTask {
                        var req = HTTPClientRequest(url: server + "/v1/changes?subscription=\(id)")
                        req.headers.add(name: "authorization", value: "Bearer \(subscriberToken)")
                        req.headers.add(name: "accept", value: "text/event-stream")
                        let r = try await client.execute(req, timeout: .seconds(Int64(seconds + 60)))
                        var scanner = SSEFrameScanner()
                        var seen = 0
                        for try await chunk in r.body {
                            let now = SSEBenchCommand.nowNanos()
                            scanner.feed(chunk.readableBytesView) { sent in
                                latencies.add(now &- sent, sentAt: sent)
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
        let warmupEvents = rate * warmup
        var start = SSEBenchCommand.nowNanos()
        var sent = 0
        var tick = 0
        var inflight: [Task<Void, any Error>] = []
        var cpuAtStart = ProcessCPU.seconds()
        var commitsAtStart = CommitHistogram()
        while sent < expected + warmupEvents {
            if sent == warmupEvents {
                // Measured events start here; warm-up ids ("ssw-") are not counted by receivers.
                commitsAtStart = try await commitHistogram(client)
                start = SSEBenchCommand.nowNanos()
                cpuAtStart = ProcessCPU.seconds()
                tick = 0
            }
            var lines: [String] = []
            let measured = sent >= warmupEvents
            let end = measured ? expected + warmupEvents : warmupEvents
            for _ in 0..<min(perTick, end - sent) {
                let n = 800_000_000 + Int(start % 1_000_000) * 1000 + sent
                let id = CitizenID.make(region: "330203", birth: "19" + Self.twoDigits(50 + n % 50) + Self.twoDigits(1 + n / 50 % 12) + Self.twoDigits(1 + n / 600 % 28),
                                        sequence: n / 16_800 % 1000)
                lines.append(#"{"specversion":"1.0","id":"\#(measured ? "sse" : "ssw")-\#(SSEBenchCommand.nowNanos())-\#(sent)","source":"gongan","type":"person.updated","subject":"person/\#(id)","time":"2026-11-20T08:00:00+08:00","data":{"name":"延迟\#(sent)","regionCode":"330203"}}"#)
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
        sent -= warmupEvents
        let deadline = SSEBenchCommand.nowNanos() + 10_000_000_000
        while latencies.count < expected * subscribers && SSEBenchCommand.nowNanos() < deadline { try await Task.sleep(for: .milliseconds(50)) }
        receivers.cancel()
        let commits = try await commitHistogram(client).subtracting(commitsAtStart)
        // The load generator shares the hub's cores: what it used while measuring.
        let generatorCPU = ProcessCPU.seconds() - cpuAtStart
        let measuredSeconds = Double(SSEBenchCommand.nowNanos() - start) / 1e9
        let v = latencies.sorted
        if let timeline {
            var worst: [Int: UInt64] = [:]
            for (sentAt, l) in latencies.samples where sentAt >= start {
                let slot = Int((sentAt - start) / 100_000_000)
                worst[slot] = max(worst[slot] ?? 0, l)
            }
            let text = worst.keys.sorted().map { String(format: "%.1f s  worst %.2f ms", Double($0) / 10, Double(worst[$0] ?? 0) / 1e6) }
            try (["start \(start)"] + text).joined(separator: "\n").write(toFile: timeline, atomically: true, encoding: .utf8)
        }
        func pct(_ p: Double) -> Double { v.isEmpty ? 0 : Double(v[min(v.count - 1, Int(Double(v.count) * p))]) / 1e6 }
        let rate = Double(sent) / publishSeconds
        return String(format: "subscribers %d, published %d events in %.2f s (%.0f events/s), received %d of %d; latency ms p50 %.2f p99 %.2f max %.2f; generator CPU %.2f s in %.2f s (%.0f %% of a core); %@",
                      subscribers, sent, publishSeconds, rate, v.count, expected * subscribers, pct(0.5), pct(0.99), pct(1.0),
                      generatorCPU, measuredSeconds, 100 * generatorCPU / max(measuredSeconds, 1e-9),
                      commits.summary(over: 0.02, rate: rate, events: sent))
    }
}

/// A change reaches subscribers once its group commit is durable: a commit slower than the
/// latency target holds every change in it past the target, whatever the hub does after.
/// The benchmark reports how many commits of its window were, so a run that misses the
/// target says whether the disk's syncs did (cumulative counts per upper bound, seconds).
struct CommitHistogram {
    var buckets: [(le: Double, count: Int)] = []

    init() {}

    /// Reads `yidang_commit_seconds_bucket{le="…"} N` lines; others are ignored.
    init(prometheusText text: String) {
        for line in text.split(separator: "\n") where line.hasPrefix("yidang_commit_seconds_bucket{") {
            guard let open = line.range(of: "le=\""), let close = line[open.upperBound...].firstIndex(of: "\""),
                  let count = line.split(separator: " ").last.flatMap({ Double($0) }) else { continue }
            let bound = line[open.upperBound..<close]
            buckets.append((bound == "+Inf" ? .infinity : Double(bound) ?? .infinity, Int(count)))
        }
        buckets.sort { $0.le < $1.le }
    }

    /// The commits counted since `earlier` (the same buckets).
    func subtracting(_ earlier: CommitHistogram) -> CommitHistogram {
        var d = self
        let before = Dictionary(earlier.buckets.map { ($0.le, $0.count) }, uniquingKeysWith: max)
        d.buckets = buckets.map { ($0.le, $0.count - (before[$0.le] ?? 0)) }
        return d
    }

    var total: Int { buckets.last?.count ?? 0 }

    /// "commits N, over 20 ms M (the slowest ≤ X ms)" for `threshold` seconds, itself a bucket
    /// bound; given the rate events were published at and how many, also how many of them
    /// the slow commits alone held past it, at least (``heldPast(_:rate:)``), and their share.
    func summary(over threshold: Double, rate: Double? = nil, events: Int? = nil) -> String {
        let within = buckets.last { $0.le <= threshold }?.count ?? 0
        let slow = total - within
        let ms = Int((threshold * 1000).rounded())
        guard slow > 0 else { return "commits \(total), over \(ms) ms 0" }
        // The first bound that holds every commit.
        let slowest = buckets.first { $0.count == total }?.le ?? .infinity
        let bound = slowest.isFinite ? "≤ \(Int((slowest * 1000).rounded())) ms" : "over \(Int((buckets.dropLast().last?.le ?? 0) * 1000)) ms"
        var text = "commits \(total), over \(ms) ms \(slow) (the slowest \(bound))"
        if let rate, let events, events > 0 {
            let held = heldPast(threshold, rate: rate)
            text += String(format: ", holding at least %d events (%.2f %%) past %d ms", held, 100 * Double(held) / Double(events), ms)
        }
        return text
    }

    /// How many events published at `rate` a second the commits slower than `threshold`
    /// seconds held past it, at least. Commits are serial: what arrives while one is being
    /// written waits for it to end before its own commit starts, so a commit that took `d`
    /// holds past the threshold everything that arrived in its first `d − threshold`
    /// seconds, whatever the hub does afterwards. Each commit is taken at its bucket's lower
    /// bound (the last finite bound for those beyond it), so this never overstates.
    func heldPast(_ threshold: Double, rate: Double) -> Int {
        var held = 0.0
        var lower = 0.0, below = 0
        for bucket in buckets {
            let commits = bucket.count - below
            if lower >= threshold { held += Double(commits) * rate * (lower - threshold) }
            below = bucket.count
            if bucket.le.isFinite { lower = bucket.le }
        }
        // The bounds' decimal fractions are not exact in binary: 25 events must not read 24.
        return Int(held + 1e-6)
    }
}

/// Splits an SSE byte stream into frames and reads the send time out of each frame's
/// `"eventIds":["sse-<nanos>-…` without building strings: 20 subscribers at 5,000 events/s
/// are 100,000 frames a second, and the load generator shares the hub's two cores. Frames
/// and the marker are found with `memchr` (a loop over every byte in Swift was over half of
/// the generator's CPU).
struct SSEFrameScanner {
    private var pending: [UInt8] = []
    private static let marker = Array(#""eventIds":["sse-"#.utf8)

    /// Appends `bytes` and calls `onSendTime` with the send time of each frame completed,
    /// in stream order (a frame without the marker, such as a comment, gives none).
    mutating func feed(_ bytes: some Collection<UInt8>, _ onSendTime: (UInt64) -> Void) {
        pending.append(contentsOf: bytes)
        var frameStart = 0
        pending.withUnsafeBufferPointer { p in
            guard let base = p.baseAddress else { return }
            let n = p.count
            var i = 0
            // A frame ends with an empty line: a newline followed by another.
            while i + 1 < n, let found = memchr(base + i, 0x0A, n - 1 - i) {
                let at = UnsafeRawPointer(base).distance(to: UnsafeRawPointer(found))
                guard p[at + 1] == 0x0A else { i = at + 1; continue }
                if let sent = Self.sendTime(base + frameStart, count: at - frameStart) { onSendTime(sent) }
                i = at + 2
                frameStart = i
            }
        }
        if frameStart > 0 { pending.removeFirst(frameStart) }
    }

    /// The marker's one capital letter (`I`), rare in a frame: found with `memchr`, then the
    /// whole marker compared around it.
    private static let anchor = marker.firstIndex(of: UInt8(ascii: "I"))!

    private static func sendTime(_ frame: UnsafePointer<UInt8>, count: Int) -> UInt64? {
        marker.withUnsafeBufferPointer { m -> UInt64? in
            var from = anchor
            while from < count, let found = memchr(frame + from, Int32(UInt8(ascii: "I")), count - from) {
                let at = UnsafeRawPointer(frame).distance(to: UnsafeRawPointer(found))
                from = at + 1
                let start = at - anchor
                guard start + m.count <= count, memcmp(frame + start, m.baseAddress!, m.count) == 0 else { continue }
                var d = start + m.count
                var v: UInt64 = 0
                var digits = 0
                while d < count, frame[d] >= 0x30, frame[d] <= 0x39 { v = v &* 10 &+ UInt64(frame[d] - 0x30); d += 1; digits += 1 }
                return digits > 0 ? v : nil
            }
            return nil
        }
    }
}

final class LatencyLog: Sendable {
    private struct Samples { var values: [UInt64] = []; var sentTimes: [UInt64] = [] }
    private let samplesTaken: Mutex<Samples>
    /// - Parameter expected: the samples the run takes, room for which is made at once: an
    ///   array that doubles mid-run copies megabytes under the lock every receiver waits for.
    init(expected: Int = 0) {
        var samples = Samples()
        samples.values.reserveCapacity(expected)
        samples.sentTimes.reserveCapacity(expected)
        samplesTaken = Mutex(samples)
    }
    func add(_ v: UInt64, sentAt: UInt64) { samplesTaken.withLock { $0.values.append(v); $0.sentTimes.append(sentAt) } }
    var samples: [(sentAt: UInt64, latency: UInt64)] { samplesTaken.withLock { Array(zip($0.sentTimes, $0.values)) } }
    var count: Int { samplesTaken.withLock { $0.values.count } }
    var sorted: [UInt64] { samplesTaken.withLock { $0.values.sorted() } }
}

extension Array {
    subscript(safe i: Int) -> Element? { indices.contains(i) ? self[i] : nil }
}
