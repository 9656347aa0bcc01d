import Foundation
import Logging
import Synchronization

/// The test process's log: every record is kept in memory instead of printed, so that a
/// passing run prints no `error` lines from the failures tests cause on purpose, and a test
/// can assert that a failure was reported. `YIDANG_TEST_LOGS=1` prints them as well.
public enum TestLogging {
    public struct Entry: Sendable {
        public var level: Logger.Level
        public var label: String
        public var message: String
    }

    private static let entries = Mutex<[Entry]>([])
    private static let echo = ProcessInfo.processInfo.environment["YIDANG_TEST_LOGS"] == "1"
    private static let installed: Bool = {
        LoggingSystem.bootstrap { label in CapturingHandler(label: label) }
        return true
    }()

    /// Installs the capturing handler (once per process; later calls do nothing).
    public static func bootstrap() { _ = installed }

    /// Whether a record at `level` or above from a logger whose label starts with
    /// `labelPrefix` contains `text`.
    public static func contains(_ text: String, level: Logger.Level = .error, labelPrefix: String = "") -> Bool {
        entries.withLock { $0.contains { $0.level >= level && $0.label.hasPrefix(labelPrefix) && $0.message.contains(text) } }
    }

    fileprivate static func append(_ entry: Entry) {
        if echo { FileHandle.standardError.write(Data("\(entry.level) \(entry.label): \(entry.message)\n".utf8)) }
        entries.withLock { all in
            if all.count > 100_000 { all.removeFirst(50_000) }
            all.append(entry)
        }
    }

    struct CapturingHandler: LogHandler {
        let label: String
        var logLevel: Logger.Level = .info
        var metadata: Logger.Metadata = [:]
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            TestLogging.append(Entry(level: event.level, label: label, message: "\(event.message)"))
        }
    }
}
