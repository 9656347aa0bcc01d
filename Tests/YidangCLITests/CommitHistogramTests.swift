import Testing
@testable import YidangCLI

/// `bench-sse` tells a run's slow commits (the disk's syncs) from the hub's own delays by
/// the server's commit histogram; a misread would blame the wrong one.
@Suite struct CommitHistogramTests {
    /// `/metrics` as the server writes it (swift-prometheus), other series around it.
    static func metrics(_ counts: [Int]) -> String {
        let bounds = ["0.0005", "0.001", "0.002", "0.005", "0.01", "0.02", "0.025", "0.05", "0.1", "0.25", "1.0", "+Inf"]
        var text = "# HELP yidang_commit_seconds Duration of a group commit's synced write.\n# TYPE yidang_commit_seconds histogram\n"
        for (b, n) in zip(bounds, counts) { text += "yidang_commit_seconds_bucket{le=\"\(b)\"} \(n)\n" }
        text += "yidang_commit_seconds_sum 1.25\nyidang_commit_seconds_count \(counts.last ?? 0)\n"
        text += "yidang_commit_batch_events_bucket{le=\"5.0\"} 99\nyidang_events_total{department=\"gongan\",result=\"accepted\"} 7\n"
        return text
    }

    @Test func aWindowWithoutSlowCommitsSaysSo() {
        let before = CommitHistogram(prometheusText: Self.metrics([0, 2, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5]))
        let after = CommitHistogram(prometheusText: Self.metrics([0, 90, 1500, 1580, 1600, 1605, 1605, 1605, 1605, 1605, 1605, 1605]))
        #expect(after.buckets.count == 12)
        #expect(after.subtracting(before).summary(over: 0.02) == "commits 1600, over 20 ms 0")
    }

    @Test func slowCommitsAreCountedWithTheBoundOfTheSlowest() {
        let before = CommitHistogram(prometheusText: Self.metrics([0, 2, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5]))
        // Two commits of the window took 20–25 ms and 50–100 ms (the disk's sync).
        let after = CommitHistogram(prometheusText: Self.metrics([0, 60, 1550, 1590, 1598, 1598, 1599, 1599, 1600, 1600, 1600, 1600]))
        #expect(after.subtracting(before).summary(over: 0.02) == "commits 1595, over 20 ms 2 (the slowest ≤ 100 ms)")
        // One beyond the last finite bound.
        let stalled = CommitHistogram(prometheusText: Self.metrics([0, 60, 1550, 1590, 1598, 1598, 1599, 1599, 1599, 1599, 1599, 1600]))
        #expect(stalled.subtracting(before).summary(over: 0.02) == "commits 1595, over 20 ms 2 (the slowest over 1000 ms)")
    }

    /// What queued behind a slow commit waited for it: at 5,000 events/s, a commit of 50–75 ms
    /// held at least the 150 events of its first 30 ms past 20 ms. Each commit counts at its
    /// bucket's lower bound (one beyond the last bound at that bound), never more.
    @Test func slowCommitsHoldWhatQueuedBehindThemAtLeast() {
        let bounds = ["0.0005", "0.001", "0.002", "0.005", "0.01", "0.02", "0.025", "0.03", "0.04", "0.05", "0.075", "0.1",
                      "0.15", "0.25", "0.5", "1.0", "+Inf"]
        // 1,500 commits within 20 ms; one each in 25–30 ms, 50–75 ms and 250–500 ms, and one over a second.
        let counts = [0, 60, 1400, 1490, 1500, 1500, 1500, 1501, 1501, 1501, 1502, 1502, 1502, 1502, 1503, 1503, 1504]
        var text = ""
        for (b, n) in zip(bounds, counts) { text += "yidang_commit_seconds_bucket{le=\"\(b)\"} \(n)\n" }
        let window = CommitHistogram(prometheusText: text)
        #expect(window.heldPast(0.02, rate: 5000) == 25 + 150 + 1150 + 4900)
        #expect(window.summary(over: 0.02, rate: 5000, events: 75_000)
            == "commits 1504, over 20 ms 4 (the slowest over 1000 ms), holding at least 6225 events (8.30 %) past 20 ms")
        // Without slow commits nothing is held, and the summary says only that.
        let quiet = CommitHistogram(prometheusText: Self.metrics([0, 90, 1500, 1580, 1600, 1605, 1605, 1605, 1605, 1605, 1605, 1605]))
        #expect(quiet.heldPast(0.02, rate: 5000) == 0)
        #expect(quiet.summary(over: 0.02, rate: 5000, events: 75_000) == "commits 1605, over 20 ms 0")
    }
}
