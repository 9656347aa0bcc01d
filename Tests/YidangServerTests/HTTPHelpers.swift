import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import JSON
@testable import YidangServer
import YidangStore

enum HTTP {
    static func get(_ url: String, token: String) async throws -> (Int, JSONValue) {
        var request = URLRequest(url: URL(string: url)!)
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, (try? JSONParser.parse(Array(data))) ?? .null)
    }

    static func post(_ url: String, token: String, json: JSONValue, type: String = "application/json") async throws -> (Int, JSONValue) {
        var request = URLRequest(url: URL(string: url)!)
        request.httpMethod = "POST"
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        request.setValue(type, forHTTPHeaderField: "Content-Type")
        request.httpBody = Data(JSONWriter.bytes(json))
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, (try? JSONParser.parse(Array(data))) ?? .null)
    }
}

/// A minimal SSE reader over a raw socket-free URLSession stream (bytes delegate).
final class SSEClient: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    struct Message { var id: String; var event: String; var data: String }
    private let lock = NSLock()
    private var buffer = ""
    private var messages: [Message] = []
    private var keepAlives = 0
    private var session: URLSession!
    private var task: URLSessionDataTask!

    init(url: String, token: String, lastEventID: String?) throws {
        super.init()
        session = URLSession(configuration: .default, delegate: self, delegateQueue: nil)
        var request = URLRequest(url: URL(string: url)!)
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        request.setValue("text/event-stream", forHTTPHeaderField: "Accept")
        if let lastEventID { request.setValue(lastEventID, forHTTPHeaderField: "Last-Event-ID") }
        request.timeoutInterval = 60
        task = session.dataTask(with: request)
        task.resume()
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        lock.lock(); defer { lock.unlock() }
        buffer += String(decoding: data, as: UTF8.self)
        while let range = buffer.range(of: "\n\n") {
            let frame = String(buffer[..<range.lowerBound])
            buffer.removeSubrange(..<range.upperBound)
            var m = Message(id: "", event: "", data: "")
            var comment = false
            for line in frame.split(separator: "\n") {
                if line.hasPrefix("id: ") { m.id = String(line.dropFirst(4)) }
                else if line.hasPrefix("event: ") { m.event = String(line.dropFirst(7)) }
                else if line.hasPrefix("data: ") { m.data = String(line.dropFirst(6)) }
                else if line.hasPrefix(": keep-alive") { comment = true }
            }
            if comment { keepAlives += 1 } else if !m.id.isEmpty { messages.append(m) }
        }
    }

    /// The next `n` messages not yet returned.
    private var taken = 0
    func next(_ n: Int, timeout: Double) async throws -> [Message] {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let out = take(n) { return out }
            try await Task.sleep(nanoseconds: 10_000_000)
        }
        return take(0, all: true) ?? []
    }

    private func take(_ n: Int, all: Bool = false) -> [Message]? {
        lock.lock(); defer { lock.unlock() }
        if all { let out = Array(messages[taken...]); taken = messages.count; return out }
        guard messages.count - taken >= n else { return nil }
        let out = Array(messages[taken..<taken + n]); taken += n
        return out
    }
    private var keepAliveCount: Int { lock.lock(); defer { lock.unlock() }; return keepAlives }

    func sawKeepAlive(timeout: Double) async throws -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if keepAliveCount > 0 { return true }
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        return false
    }

    func close() { task.cancel(); session.invalidateAndCancel() }
}

/// Serves `hub` on a free loopback port while `body` runs with the server's base URL, and
/// stops the server when it returns.
func withLiveServer<T>(_ hub: Hub, options: ServerOptions = ServerOptions(), _ body: (String) async throws -> T) async throws -> T {
    var options = options
    options.port = 0
    let ready = AsyncStream<Int>.makeStream()
    let app = try await YidangServer.application(hub: hub, options: options) { port in ready.continuation.yield(port) }
    let server = Task { try await app.run() }
    defer { server.cancel() }
    var port = 0
    for await p in ready.stream { port = p; break }
    let result = try await body("http://127.0.0.1:\(port)")
    server.cancel()
    _ = await server.result
    return result
}
