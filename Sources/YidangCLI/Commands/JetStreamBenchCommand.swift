import ArgumentParser
import Foundation
import NATS
import YidangSync

/// Raw JetStream publishes, as the change feed makes them (one at a time, each waiting for
/// the stream's acknowledgement), and a watch of the change stream catching up: the anchors
/// and figures of `Benchmarks/jetstream.sh`.
struct JetStreamBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench-jetstream", abstract: "JetStream publish benchmark (benchmark aid).",
                                                    shouldDisplay: false)
    @Option(help: "NATS servers, comma-separated.") var servers: String
    @Option(help: "Messages to publish (0: only watch).") var messages = 20_000
    @Option(help: "Bytes per message.") var size = 600
    @Option(help: "Stream replicas.") var replicas = 1
    @Option(help: "Concurrent publishers, each waiting for its acknowledgements.") var publishers = 1
    @Flag(name: .customLong("async"), help: "Publish with a window of unacknowledged messages (as `nats bench` does), then wait for all.")
    var asynchronous = false
    @Option(name: .customLong("watch-position"), help: "Instead: wait until YIDANG_CHANGES holds this change position; print the seconds.")
    var watchPosition: UInt64?

    func run() async throws {
        try await guarded {
            let list = servers.split(separator: ",").map(String.init)
            let nats = try NATSConnection(servers: list, name: "yidang-bench")
            defer { nats.close() }
            if let target = watchPosition {
                let started = Date()
                while true {
                    let last = (try? nats.lastSequence(stream: JetStreamChangeFeed.streamName)) ?? 0   // stream not made yet: 0
                    if last > 0, let m = try? nats.message(stream: JetStreamChangeFeed.streamName, sequence: last, headers: ["Yidang-Position"]),
                       let p = m.headers["Yidang-Position"].flatMap(UInt64.init), p >= target {
                        print(String(format: "caught up with change %llu in %.3f s, %llu messages", target, Date().timeIntervalSince(started), last))
                        return
                    }
                    try await Task.sleep(for: .milliseconds(20))
                }
            }
            var settings = NATSConnection.StreamSettings(name: "BENCH_R\(replicas)", subjects: ["bench.r\(replicas).>"])
            settings.replicas = replicas
            try nats.ensureStream(settings)
            let payload = [UInt8](repeating: UInt8(ascii: "x"), count: size)
            if asynchronous {
                let started = Date()
                let run = "a\(Int(started.timeIntervalSince1970 * 1000))"
                try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, Error>) in
                    Thread.detachNewThread {
                        c.resume(with: Result {
                            for i in 0..<messages {
                                try nats.publishAsync(subject: "bench.r\(replicas).async", data: payload, messageId: "\(run)-\(i)")
                            }
                            try nats.waitForAsyncPublishes(timeoutMilliseconds: 60_000)
                        })
                    }
                }
                let seconds = Date().timeIntervalSince(started)
                print(String(format: "published %d messages of %d B (R%d, asynchronous) in %.2f s: %.0f msg/s", messages, size, replicas, seconds,
                             Double(messages) / seconds))
                return
            }
            let per = messages / max(1, publishers)
            let started = Date()
            let latencies = try await withThrowingTaskGroup(of: [Double].self) { group in
                for p in 0..<max(1, publishers) {
                    group.addTask {
                        try await withCheckedThrowingContinuation { (c: CheckedContinuation<[Double], Error>) in
                            Thread.detachNewThread {
                                c.resume(with: Result {
                                    var out: [Double] = []
                                    out.reserveCapacity(per)
                                    for i in 0..<per {
                                        let t = Date()
                                        _ = try nats.publish(subject: "bench.r\(replicas).\(p)", data: payload, messageId: "b-\(started.timeIntervalSince1970)-\(p)-\(i)")
                                        out.append(Date().timeIntervalSince(t) * 1000)
                                    }
                                    return out
                                })
                            }
                        }
                    }
                }
                var all: [Double] = []
                for try await part in group { all += part }
                return all.sorted()
            }
            let seconds = Date().timeIntervalSince(started)
            func pct(_ q: Double) -> Double { latencies.isEmpty ? 0 : latencies[min(latencies.count - 1, Int(Double(latencies.count) * q))] }
            print(String(format: "published %d messages of %d B (R%d, %d publishers) in %.2f s: %.0f msg/s, p50 %.2f ms, p99 %.2f ms",
                         latencies.count, size, replicas, max(1, publishers), seconds, Double(latencies.count) / seconds, pct(0.5), pct(0.99)))
        }
    }
}
