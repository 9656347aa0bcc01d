import Foundation

/// The options RocksDB last recorded for a store: the text of its newest `OPTIONS-<number>`
/// file (RocksDB writes one at each open and each change of options), and one option's value
/// in it. What a test reads here is what RocksDB applied, not what the hub asked for.
public enum RecordedOptions {
    /// The newest OPTIONS file's text in the store directory `path`.
    /// - Throws: when the directory or the file cannot be read.
    public static func text(inStore path: String) throws -> String {
        let newest = try FileManager.default.contentsOfDirectory(atPath: path)
            .filter { $0.hasPrefix("OPTIONS-") }
            .max { (Int($0.dropFirst(8)) ?? 0) < (Int($1.dropFirst(8)) ?? 0) }
        return try String(contentsOfFile: path + "/" + (newest ?? "OPTIONS-missing"), encoding: .utf8)
    }

    /// The value of option `name` (`target_file_size_base`…) in that file, or nil.
    /// - Throws: when the directory or the file cannot be read.
    public static func value(_ name: String, inStore path: String) throws -> String? {
        try text(inStore: path).split(separator: "\n")
            .first { $0.trimmingCharacters(in: .whitespaces).hasPrefix(name + "=") }
            .map { String($0.drop { $0 != "=" }.dropFirst()) }
    }
}
