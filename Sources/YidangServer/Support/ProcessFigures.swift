import Foundation
import Synchronization

/// The process's own figures from `/proc/self` (Linux): what an operator alerts on before
/// the hub runs out of memory or file descriptors.
final class ProcessFigures: Sendable {
    struct Sample {
        var residentBytes: Double
        var virtualBytes: Double
        var openFDs: Double
        var maxFDs: Double?
        var startTime: Double
        /// CPU seconds since the previous sample (a counter only moves forward).
        var cpuSecondsDelta: Double
    }
    private let lastCPU = Mutex<Double>(0)

    /// nil where `/proc` is not there (not Linux).
    func sample() -> Sample? {
        guard let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),   // absent off Linux: no process figures
              let close = stat.lastIndex(of: ")") else { return nil }
        // Fields after the command name, which may hold spaces: field 3 is the state.
        let f = stat[stat.index(after: close)...].split(separator: " ").map(String.init)
        guard f.count > 22, let utime = Double(f[11]), let stime = Double(f[12]), let start = Double(f[19]),
              let vsize = Double(f[20]), let rss = Double(f[21]) else { return nil }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK))), page = Double(sysconf(Int32(_SC_PAGESIZE)))
        let cpu = (utime + stime) / ticks
        let delta = lastCPU.withLock { last in defer { last = max(last, cpu) }; return max(0, cpu - last) }
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count).map(Double.init) ?? 0   // unreadable: report 0
        return Sample(residentBytes: rss * page, virtualBytes: vsize, openFDs: fds, maxFDs: Self.maxFDs(),
                      startTime: Self.bootTime() + start / ticks, cpuSecondsDelta: delta)
    }

    static func maxFDs() -> Double? {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return nil }
        return Double(limit.rlim_cur)
    }

    static func bootTime() -> Double {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8) else { return 0 }   // off Linux: relative start
        for line in text.split(separator: "\n") where line.hasPrefix("btime ") { return Double(line.dropFirst(6)) ?? 0 }
        return 0
    }
}
