import Foundation
import Identifiers
import Testing
@testable import YidangStore

@Suite struct IngestPipelineTests {
    /// A body handed to the writer in pieces validated side by side answers as one: every
    /// document's fate at its own index, the accepted events stored in the body's order, a
    /// repeat within the body answered with the first one's position, and the refusals
    /// counted once against the publisher's department.
    @Test func aBodyInPiecesKeepsItsOrderAndItsAnswers() async throws {
        let hub = try Hub(directory: tempDir() + "/hub")
        defer { hub.close() }
        var lines: [[UInt8]] = []
        for i in 0..<1_000 {
            // The 901st repeats the 12th word for word; every seventh names no valid subject.
            let n = i == 900 ? 11 : i
            let subject = i % 7 == 3 ? "person/123" : "person/" + CitizenID.make(region: "110105", birth: "19800101", sequence: n)
            lines.append(Array(#"{"specversion":"1.0","id":"e\#(n)","source":"gongan","type":"person.updated","subject":"\#(subject)","time":"2026-11-20T08:00:00+08:00","data":{"name":"张\#(n)"}}"#.utf8))
        }
        let body = lines
        let pipeline = IngestPipeline(hub: hub)
        let now = EventStore.now()
        let publisher = Publisher(department: "gongan")
        let (admissions, results) = try await pipeline.ingest(count: lines.count, pieceSize: 64) {
            pipeline.admit(line: body[$0], by: publisher, now: now)
        }
        #expect(admissions.count == 1_000 && results.count == 1_000)
        var last: UInt64 = 0
        var rejected = 0
        var reason = ""
        for (i, (admission, result)) in zip(admissions, results).enumerated() {
            #expect(admission.id == (i == 900 ? "e11" : "e\(i)"))
            switch result {
            case .accepted(let position):
                #expect(i % 7 != 3 && i != 900, "index \(i) accepted")
                #expect(position > last, "index \(i) stored at \(position), after \(last)")
                last = position
            case .duplicate(let position):
                #expect(i == 900)
                if case .accepted(let first) = results[11] { #expect(position == first) } else { Issue.record("index 11: \(results[11])") }
            case .rejected(let rejection):
                #expect(i % 7 == 3, "index \(i) refused: \(rejection)")
                #expect(rejection.field == "subject")
                rejected += 1
                reason = rejection.code.rawValue
            }
        }
        #expect(rejected == (0..<1_000).filter { $0 % 7 == 3 }.count)
        #expect(await hub.store.headPosition == UInt64(1_000 - rejected - 1))
        let counted = try hub.database.get(Keys.rejectionKey("gongan", reason)).map { Keys.readBE($0) }
        #expect(counted == UInt64(rejected))
    }
}
