import Foundation

/// Directories for tests, each new and empty, all under one directory of the test process
/// that is removed when the process exits: a test's data directory, RocksDB files and all,
/// used to stay in the system's temporary directory after every run.
public enum TestDirectories {
    private static let rootPath = NSTemporaryDirectory() + "yidang-tests-\(ProcessInfo.processInfo.processIdentifier)"
    private static let root: String = {
        try? FileManager.default.createDirectory(atPath: rootPath, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(atPath: TestDirectories.rootPath) }
        return rootPath
    }()

    /// A new directory named after `kind` and the test (`name`, usually `#function`).
    /// Tests that need a directory run the hub, so this is where the test log is installed.
    public static func make(_ kind: String, for name: String) -> String {
        TestLogging.bootstrap()
        let path = root + "/\(kind)-\(name.filter { $0.isLetter })-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}
