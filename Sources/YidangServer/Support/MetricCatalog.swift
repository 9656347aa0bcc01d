import CoreMetrics
import Prometheus

/// Every metric the hub exports, with the HELP text Prometheus shows for it. A metric not
/// in the catalogue is a programming error caught by the metrics test (its HELP would say so).
enum MetricCatalog {
    static let help: [String: String] = [
        "yidang_events_total": "Published events by department and result (accepted, duplicate, rejected).",
        "yidang_event_rejections_total": "Rejected events by department and reason.",
        "yidang_commit_batch_events": "Events per group commit.",
        "yidang_commit_seconds": "Duration of a group commit's synced write.",
        "yidang_group_build_seconds": "Time the single writer spent building a group: looking up its events' ids and golden records and folding them.",
        "yidang_http_request_duration_seconds": "HTTP request duration by method, route and status.",
        "yidang_verification_claims_total": "Verified claims by result (match, mismatch, partial, unknown).",
        "yidang_verifications_rate_limited_total": "Verifications refused by a verifier token's rate limit.",
        "yidang_verification_alerts_total": "Bursts of mismatching verifications on one subject flagged in the audit trail.",
        "yidang_conflicts_open": "Open conflicts.",
        "yidang_log_position": "Position of the last event in the log.",
        "yidang_change_position": "Position of the last change record on the change feed.",
        "yidang_subscription_lag": "Changes on the feed a subscription has not yet acknowledged (delivery lag).",
        "yidang_subscription_paused": "1 when a webhook subscription is paused after repeated failures.",
        "yidang_subscription_deliveries_total": "Changes delivered to a subscription's webhook.",
        "yidang_subscription_failures_total": "Failed webhook deliveries of a subscription.",
        "yidang_subscription_pauses_total": "Times a subscription was paused after repeated failures.",
        "yidang_subscription_state_failures_total": "Failed writes or reads of a subscription's delivery state (retried).",
        "process_cpu_seconds_total": "Total user and system CPU time spent in seconds.",
        "process_resident_memory_bytes": "Resident memory size in bytes.",
        "process_virtual_memory_bytes": "Virtual memory size in bytes.",
        "process_open_fds": "Number of open file descriptors.",
        "process_max_fds": "Maximum number of open file descriptors.",
        "process_start_time_seconds": "Start time of the process since the Unix epoch in seconds.",
    ]

    static func text(_ name: String) -> String { help[name] ?? "undocumented metric \(name)" }
}

/// swift-metrics on the Prometheus registry, with each metric's HELP text from
/// ``MetricCatalog`` (the registry's own factory registers every metric without one).
struct CatalogMetricsFactory: MetricsFactory {
    let registry: PrometheusCollectorRegistry
    var durationBuckets: [String: [Duration]] = [:]
    /// The buckets swift-prometheus's own factory uses, so dashboards see the same series.
    var valueBuckets: [Double] = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000]
    static let defaultDurationBuckets: [Duration] = [.milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
                                                    .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
                                                    .milliseconds(2500), .seconds(5), .seconds(10)]

    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        registry.makeCounter(name: label, labels: dimensions, help: MetricCatalog.text(label))
    }
    func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        registry.makeCounter(name: label, labels: dimensions, help: MetricCatalog.text(label))
    }
    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        guard aggregate else { return registry.makeGauge(name: label, labels: dimensions, help: MetricCatalog.text(label)) }
        return registry.makeValueHistogram(name: label, labels: dimensions, buckets: valueBuckets, help: MetricCatalog.text(label))
    }
    func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        registry.makeGauge(name: label, labels: dimensions, help: MetricCatalog.text(label))
    }
    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        registry.makeDurationHistogram(name: label, labels: dimensions, buckets: durationBuckets[label] ?? Self.defaultDurationBuckets,
                                       help: MetricCatalog.text(label))
    }
    func destroyCounter(_ handler: any CounterHandler) { if let c = handler as? Prometheus.Counter { registry.unregisterCounter(c) } }
    func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) { if let c = handler as? Prometheus.Counter { registry.unregisterCounter(c) } }
    func destroyRecorder(_ handler: any RecorderHandler) {
        if let g = handler as? Prometheus.Gauge { registry.unregisterGauge(g) }
        if let h = handler as? ValueHistogram { registry.unregisterValueHistogram(h) }
    }
    func destroyMeter(_ handler: any MeterHandler) { if let g = handler as? Prometheus.Gauge { registry.unregisterGauge(g) } }
    func destroyTimer(_ handler: any TimerHandler) { if let h = handler as? DurationHistogram { registry.unregisterDurationHistogram(h) } }
}
