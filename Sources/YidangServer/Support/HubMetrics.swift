import Metrics
import Prometheus
import YidangStore

/// The hub's Prometheus metrics (`yidang_` prefix), on a registry of its own so several
/// servers can live in one process (tests).
public final class HubMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    let factory: CatalogMetricsFactory
    let process = ProcessFigures()

    public init() {
        var f = CatalogMetricsFactory(registry: registry)
        // 20 ms: a commit slower than the hub's delivery target holds every change in it past
        // that target (changes reach subscribers once durable), so a latency report can tell
        // the disk's slow syncs from the hub's own delays. The bounds above it are close
        // enough to say how long the slow ones held the changes that queued behind them.
        f.durationBuckets["yidang_commit_seconds"] = [.microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5),
                                                      .milliseconds(10), .milliseconds(20), .milliseconds(25), .milliseconds(30),
                                                      .milliseconds(40), .milliseconds(50), .milliseconds(75), .milliseconds(100),
                                                      .milliseconds(150), .milliseconds(250), .milliseconds(500), .seconds(1)]
        // The same bounds for the writer's build: the two serial stages are read side by side.
        f.durationBuckets["yidang_group_build_seconds"] = f.durationBuckets["yidang_commit_seconds"]
        factory = f
    }

    /// Counts `count` events by department and result (`accepted`, `duplicate`, `rejected`:
    /// `yidang_events_total`) and a rejection also by reason (`yidang_event_rejections_total`).
    /// One label set per metric name: Prometheus refuses a family whose series disagree.
    func event(department: String, result: String, reason: String? = nil, count: Int = 1) {
        Counter(label: "yidang_events_total", dimensions: [("department", department), ("result", result)], factory: factory).increment(by: count)
        if let reason {
            Counter(label: "yidang_event_rejections_total", dimensions: [("department", department), ("reason", reason)],
                    factory: factory).increment(by: count)
        }
    }

    /// A durable group: its size, how long the writer took to build it and how long the
    /// synced write took.
    func commit(_ group: GroupCommit) {
        Recorder(label: "yidang_commit_batch_events", factory: factory).record(group.events)
        Metrics.Timer(label: "yidang_group_build_seconds", factory: factory).recordNanoseconds(Int64(group.buildSeconds * 1e9))
        Metrics.Timer(label: "yidang_commit_seconds", factory: factory).recordNanoseconds(Int64(group.writeSeconds * 1e9))
    }

    func requestDuration(method: String, route: String, status: Int, nanoseconds: UInt64) {
        Metrics.Timer(label: "yidang_http_request_duration_seconds",
                      dimensions: [("method", method), ("route", route), ("status", String(status))],
                      factory: factory).recordNanoseconds(Int64(min(nanoseconds, UInt64(Int64.max))))
    }

    /// A verified claim by result (`yidang_verification_claims_total`).
    func verification(result: String) {
        Counter(label: "yidang_verification_claims_total", dimensions: [("result", result)], factory: factory).increment()
    }

    /// A verification refused by the rate limit.
    func verificationRefused() {
        Counter(label: "yidang_verifications_rate_limited_total", factory: factory).increment()
    }

    /// A burst of mismatches on one subject flagged in the audit trail.
    func verificationAlert() {
        Counter(label: "yidang_verification_alerts_total", factory: factory).increment()
    }

    /// Samples the process's CPU time, memory and file descriptors (`process_*`, as the
    /// Prometheus client libraries name them), for a scrape.
    func sampleProcess() {
        guard let p = process.sample() else { return }
        gauge("process_resident_memory_bytes", p.residentBytes)
        gauge("process_virtual_memory_bytes", p.virtualBytes)
        gauge("process_open_fds", p.openFDs)
        if let max = p.maxFDs { gauge("process_max_fds", max) }
        gauge("process_start_time_seconds", p.startTime)
        if p.cpuSecondsDelta > 0 { FloatingPointCounter(label: "process_cpu_seconds_total", factory: factory).increment(by: p.cpuSecondsDelta) }
    }

    func gauge(_ label: String, _ value: Double, dimensions: [(String, String)] = []) {
        Gauge(label: label, dimensions: dimensions, factory: factory).record(value)
    }
}
