import Foundation
import JSON
import Testing
import YidangModel
@testable import YidangStore

@Suite struct ReadAheadTests {
    struct Stop: Error {}

    /// Read ahead on another thread, in chunks smaller than the log, the events arrive as a
    /// plain scan gives them; a fold that fails stops the reader (no hang) and its error is
    /// the one rethrown.
    @Test func deliversTheLogInOrderAndStopsWhenTheFoldFails() async throws {
        let hub = try Hub(directory: tempDir())
        defer { hub.close() }
        var events: [Event] = []
        for i in 0..<50 {
            events.append(try personEvent(hub, id: "e\(i)", subject: i % 3 == 0 ? "11010519491231002X" : "360426199101010071",
                                          data: ["phone": .string("1380000\(String(format: "%04d", i))")]))
        }
        _ = try await hub.store.append(events)
        var plain: [UInt64] = []
        try hub.reader.forEachEvent(payload: false) { plain.append($0.position) }
        #expect(plain == Array(1...50))
        for (chunk, depth) in [(1, 1), (7, 2), (64, 4)] {
            var ahead: [(UInt64, String)] = []
            try hub.reader.forEachEventReadingAhead(payload: false, chunkSize: chunk, depth: depth) { ahead.append(($0.position, $0.id)) }
            #expect(ahead.map(\.0) == plain)
            #expect(ahead.map(\.1) == (0..<50).map { "e\($0)" })
        }
        var seen = 0
        #expect(throws: Stop.self) {
            try hub.reader.forEachEventReadingAhead(payload: false, chunkSize: 3, depth: 1) { _ in
                seen += 1
                if seen == 10 { throw Stop() }
            }
        }
        #expect(seen == 10)
    }

    /// A read error reaches the fold after the events before it.
    @Test func aReadErrorIsRethrownAfterTheEventsBeforeIt() throws {
        let chunks = EventChunks(depth: 2)
        struct Broken: Error {}
        #expect(chunks.put([]))
        chunks.finish(Broken())
        #expect(try chunks.take() == [])
        #expect(throws: Broken.self) { try chunks.take() }
        chunks.stop()
        #expect(!chunks.put([]))
    }
}
