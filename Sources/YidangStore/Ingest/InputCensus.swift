import Foundation
import JSON
import Synchronization

/// Counts the subjects an import's input files name, and how often they come back, on a
/// thread of its own while the import begins: the bulk load's subject cache is sized by it
/// (``EventStore/holdSubjects(_:)``).
///
/// A registry snapshot names each subject once per department, a department's pass apart:
/// a cache smaller than such a pass lets records go (each encoded and written) and reads them
/// back (each read and decoded) when the next department's pass reaches them, until enough
/// have come back for the cache to grow. Counted first, a load whose subjects come back and
/// all fit holds them from the start, and the cache holds no more records than the input has
/// subjects. A load whose subjects' events stay together gains nothing from it: its records
/// leave once, written beside the fold, rather than all at its end.
///
/// The count reads each line's first `"subject"` member without parsing the rest: a line
/// that is not what it looks like is counted as it reads (the import itself rejects it).
/// It is an estimate for sizing, never for what is stored.
///
/// Guarantees: ``result()`` is nil until the count is done, then the distinct subjects (or
/// `limit + 1` when there are more than `limit`, and the count stops there) and the runs of
/// consecutive lines naming one subject; a file that is not a regular file (a pipe: its
/// bytes are the import's alone), or that cannot be read, makes it nil for good (the cache
/// then grows as records come back, as without a count). The thread reads the files and
/// nothing else, so no one waits for it.
final class InputCensus: Sendable {
    struct Count: Sendable, Equatable {
        var subjects: Int
        var runs: Int
        /// Whether the subjects come back: at least twice as many runs as subjects.
        var subjectsComeBack: Bool { runs >= 2 * subjects }
    }

    private let counted = Mutex<Count?>(nil)

    /// - Parameter niceness: the thread's (0–19): it counts in the time the load leaves.
    init(files: [String], upTo limit: Int, niceness: Int32 = 0, readSize: Int = 4 << 20) {
        Thread.detachNewThread { [self] in
            _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, niceness)   // this thread's alone (Linux)
            var seen = Set<Int>()
            var runs = 0
            var previous: Int?
            for path in files {
                // Regular files only: a pipe or a device (`<(zcat …)`, `/dev/stdin`) hands each
                // byte to one reader, and every line the count read the import would never see.
                var info = stat()
                guard stat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG,
                      let file = try? LineFile(path: path, readSize: readSize) else { return }
                while !file.atEnd {
                    let read = try? file.readLines { line in
                        guard let subject = Self.subject(in: line) else { return }
                        let h = Self.digest(subject)
                        if h != previous { runs += 1; previous = h }
                        seen.insert(h)
                    }
                    guard read != nil else { return }
                    if seen.count > limit { counted.withLock { $0 = Count(subjects: limit + 1, runs: runs) }; return }
                }
            }
            counted.withLock { $0 = Count(subjects: seen.count, runs: runs) }
        }
    }

    /// The count once it is done (see the type's guarantees).
    func result() -> Count? { counted.withLock { $0 } }

    private static let memberName = Array(#""subject""#.utf8)

    /// 64-bit FNV-1a of a subject's bytes: the set rehashes it, so it only has to tell
    /// subjects apart (SipHash a line, twice, was a sixth of the count's instructions).
    static func digest(_ bytes: UnsafeBufferPointer<UInt8>) -> Int {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
        return Int(truncatingIfNeeded: h)
    }

    /// The bytes of the first `"subject"` member's string value in `line`, escapes left as
    /// written; nil when the line has none.
    static func subject(in line: UnsafeBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8>? {
        memberName.withUnsafeBytes { NDJSON.stringMember($0, keyOffset: 4, in: line) }
    }
}
