import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import JSON
import Testing

/// A real `yidang serve` process on a loopback port.
final class ServerProcess: @unchecked Sendable {
    let process = Process()
    let port: Int

    init(data: String) throws {
        process.executableURL = URL(fileURLWithPath: CLI.binary)
        process.arguments = ["serve", "--data", data, "--port", "0"]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        var text = ""
        let deadline = Date().addingTimeInterval(30)
        while !text.contains("\n") && Date() < deadline {
            text += String(decoding: out.fileHandleForReading.availableData, as: UTF8.self)
        }
        guard let range = text.range(of: #"127\.0\.0\.1:(\d+)"#, options: .regularExpression),
              let port = Int(text[range].split(separator: ":")[1]) else {
            process.terminate()
            throw CLIFailure(message: "server did not start: \(text)")
        }
        self.port = port
    }

    func kill9() { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
    func stop() { process.terminate(); process.waitUntilExit() }

    func post(_ path: String, token: String, contentType: String = "application/cloudevents+json", body: [UInt8]) async throws -> (Int, JSONValue) {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        request.httpMethod = "POST"
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        request.setValue(contentType, forHTTPHeaderField: "Content-Type")
        request.httpBody = Data(body)
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, try JSONParser.parse(Array(data)))
    }
}

func loadEvent(_ i: Int, prefix: String) -> [UInt8] {
    let id = String(format: "330203%08d", 19600101 + (i % 28)) + String(format: "%03d", i / 28 % 1000)
    // compute the check character
    let w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    let sum = zip(id, w).reduce(0) { $0 + Int(String($1.0))! * $1.1 }
    let full = id + String(Array("10X98765432")[sum % 11])
    return Array(#"{"specversion":"1.0","id":"\#(prefix)-\#(i)","source":"gongan","type":"person.updated","subject":"person/\#(full)","time":"2026-11-20T08:00:00+08:00","data":{"name":"负载\#(i)","regionCode":"330203"}}"#.utf8)
}

@Suite(.serialized) struct ServeCrashTests {
    #if os(Linux)
    /// The server runs on small pages (the batch commands ask jemalloc for huge ones).
    @Test func theServerDoesNotUseHugePages() throws {
        let server = try ServerProcess(data: CLI.tempDir() + "/data")
        defer { server.stop() }
        func thpEnabled(_ pid: String) throws -> Substring? {
            try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8).split(separator: "\n").first { $0.hasPrefix("THP_enabled:") }
        }
        // Where the kernel offers them at all (this test process may use them), the server declines.
        guard try thpEnabled("self")?.hasSuffix("1") == true else { return }
        let line = try thpEnabled("\(server.process.processIdentifier)")
        #expect(line?.hasSuffix("0") == true, "\(line ?? "no THP_enabled line")")
    }
    #endif

    /// Concurrent publishers over HTTP, the server killed with SIGKILL mid-way: after a
    /// restart every acknowledged event is present (re-publishing it answers "duplicate"
    /// at the acknowledged position) and `yidang verify` passes.
    @Test func sigkillMidLoadLosesNoAcknowledgedEvent() async throws {
        let data = CLI.tempDir() + "/data"
        let token = try CLI.run(["tokens", "create", "--role", "publisher", "--source", "gongan", "--data", data]).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(token.hasPrefix("yd_"))
        let server = try ServerProcess(data: data)
        let acked = AckLog()
        let killer = Task {
            while acked.count < 400 { try await Task.sleep(nanoseconds: 5_000_000) }
            server.kill9()
        }
        await withTaskGroup(of: Void.self) { group in
            for worker in 0..<8 {
                group.addTask {
                    var i = worker
                    while i < 20_000 {
                        guard let (status, body) = try? await server.post("/v1/events", token: token, body: loadEvent(i, prefix: "h")) else { return }
                        if status == 201, let p = body["position"]?.intValue { acked.add(i, p) }
                        i += 8
                    }
                }
            }
        }
        _ = await killer.result
        #expect(acked.count >= 400)

        let restarted = try ServerProcess(data: data)
        for (i, position) in acked.all {
            let (status, body) = try await restarted.post("/v1/events", token: token, body: loadEvent(i, prefix: "h"))
            #expect(status == 200 && body["status"] == "duplicate" && body["position"]?.intValue == position, "event h-\(i) at \(position)")
        }
        restarted.stop()   // SIGTERM: graceful
        let verify = try CLI.run(["verify", "--data", data])
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
    }
}

final class AckLog: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [(Int, Int)] = []
    func add(_ i: Int, _ p: Int) { lock.lock(); items.append((i, p)); lock.unlock() }
    var count: Int { lock.lock(); defer { lock.unlock() }; return items.count }
    var all: [(Int, Int)] { lock.lock(); defer { lock.unlock() }; return items }
}
