import Testing
@testable import YidangCLI

/// `bench-sse` reads each change's send time out of the SSE stream itself; a frame it
/// missed or misread would skew every latency the suite reports.
@Suite struct SSEFrameScannerTests {
    static func frame(_ sent: UInt64, _ n: Int) -> String {
        #"id: \#(n)"# + "\nevent: person.changed\n"
            + #"data: {"position":\#(n),"subject":"person/11010519491231002X","eventIds":["sse-\#(sent)-\#(n)"],"changed":{"name":"延迟\#(n)"}}"#
            + "\n\n"
    }

    @Test func everyFrameGivesItsSendTimeWhereverTheStreamIsCut() {
        var stream = ": yidang change feed for s1 after 0\nretry: 1000\n\n"
        var expected: [UInt64] = []
        for n in 0..<200 {
            let sent = 1_000_000_000 + UInt64(n) * 7_919
            expected.append(sent)
            stream += Self.frame(sent, n)
            // Frames that carry no send time: keep-alives, and warm-up events ("ssw-").
            if n % 17 == 0 { stream += ": keep-alive\n\n" }
            if n % 23 == 0 { stream += #"data: {"eventIds":["ssw-5-1"],"note":"Id"}"# + "\n\n" }
        }
        let bytes = Array(stream.utf8)
        // Cut into chunks of every size from 1 byte up: through the empty line and the marker.
        for size in [1, 2, 3, 7, 16, 61, 255, 4096, bytes.count] {
            var scanner = SSEFrameScanner()
            var seen: [UInt64] = []
            var i = 0
            while i < bytes.count {
                let end = min(bytes.count, i + size)
                scanner.feed(bytes[i..<end]) { seen.append($0) }
                i = end
            }
            #expect(seen == expected, "chunks of \(size) bytes")
        }
    }
}
