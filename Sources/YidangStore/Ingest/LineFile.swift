import Foundation
import JSON

/// A file read line by line in blocks, into one buffer reused in place, with POSIX reads
/// whose failures are thrown (FileHandle's `readData(ofLength:)` traps on a read error: a
/// directory named as a file crashed the import). The import and the count of its input's
/// subjects (``InputCensus``) read their files through it.
final class LineFile {
    let path: String
    private let fd: Int32
    private var buffer: [UInt8]
    /// The bytes at the front of `buffer`: the partial line carried over from the last block.
    private var filled = 0
    /// Whether the file's last line has been handed out.
    private(set) var atEnd = false

    /// Opens `path`, to be read `readSize` bytes at a time (a longer line doubles the buffer).
    /// - Throws: ``StoreError/notFound(_:)`` for a file that does not exist,
    ///   ``StoreError/unreadable(_:reason:)`` for one that cannot be opened.
    init(path: String, readSize: Int) throws {
        self.path = path
        fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw errno == ENOENT ? StoreError.notFound("file \(path)") : StoreError.unreadable(path, reason: String(cString: strerror(errno))) }
        buffer = [UInt8](repeating: 0, count: max(1, readSize))
    }

    deinit { close(fd) }   // read-only: closing loses nothing

    /// Reads the next block and calls `body` with each line it completes, without its line
    /// break (at the end of the file, the last line without one too).
    /// - Returns: the bytes read (0 at the end of the file).
    /// - Throws: ``StoreError/unreadable(_:reason:)`` for a failed read (a directory, an I/O error).
    func readLines(_ body: (UnsafeBufferPointer<UInt8>) throws -> Void) throws -> Int {
        precondition(!atEnd, "read past the end of \(path)")
        if filled == buffer.count { buffer.append(contentsOf: repeatElement(0, count: buffer.count)) }
        let n = try buffer.withUnsafeMutableBytes { raw in
            while true {
                let r = Foundation.read(fd, raw.baseAddress! + filled, raw.count - filled)
                if r >= 0 { return r }
                if errno != EINTR { throw StoreError.unreadable(path, reason: String(cString: strerror(errno))) }
            }
        }
        if n == 0 { atEnd = true }
        let end = filled + n
        var start = 0
        try buffer.withUnsafeBufferPointer { bytes in
            // The carried bytes hold no line break: only the new ones are searched.
            try NDJSON.forEachBreak(in: bytes, from: filled, to: end) { i in
                try body(UnsafeBufferPointer(rebasing: bytes[start..<i]))
                start = i + 1
            }
            if atEnd && start < end {
                try body(UnsafeBufferPointer(rebasing: bytes[start..<end]))
                start = end
            }
        }
        filled = end - start
        if start > 0 && filled > 0 { buffer.withUnsafeMutableBytes { _ = memmove($0.baseAddress!, $0.baseAddress! + start, filled) } }
        return n
    }
}
