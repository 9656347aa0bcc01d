#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The CPU time all threads of this process have used (user and system): what a benchmark
/// reads before and after the work it measures, to report its cost beside its speed.
public enum ProcessCPU {
    /// Seconds of CPU used so far.
    public static func seconds() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }
}
