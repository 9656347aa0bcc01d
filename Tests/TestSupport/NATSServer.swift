import Foundation

/// A real `nats-server` with JetStream on a loopback port chosen by the server, its store in
/// a test directory; killed when stopped.
public final class NATSServer: @unchecked Sendable {
    public let process = Process()
    public let port: Int
    public let storeDirectory: String
    public var url: String { "nats://127.0.0.1:\(port)" }

    /// - Parameter restarting: a server killed earlier, started again on its port and store.
    /// - Throws: when `nats-server` cannot be found or does not report a port within 20 s.
    public init(name: String = #function, restarting previous: NATSServer? = nil) throws {
        let dir = TestDirectories.make("nats", for: name)
        storeDirectory = previous?.storeDirectory ?? dir + "/store"
        let binary = ["/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"]
            .first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let binary else { throw NATSServerError(message: "nats-server is not installed (Tools/test.sh installs it)") }
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["-a", "127.0.0.1", "-p", previous.map { String($0.port) } ?? "-1", "-js", "-sd", storeDirectory, "--ports_file_dir", dir]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let portsFile = dir + "/nats-server_\(process.processIdentifier).ports"
        let deadline = Date().addingTimeInterval(20)
        var found: Int?
        while found == nil && Date() < deadline {
            if let data = FileManager.default.contents(atPath: portsFile),
               let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],   // not written completely yet: read again
               let nats = json["nats"] as? [String], let first = nats.first, let port = first.split(separator: ":").last.flatMap({ Int($0) }) {
                found = port
            } else {
                Thread.sleep(forTimeInterval: 0.05)
            }
        }
        guard let found else {
            process.terminate()
            throw NATSServerError(message: "nats-server did not report its port")
        }
        port = found
    }

    public func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    deinit { stop() }
}

public struct NATSServerError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}
