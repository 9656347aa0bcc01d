import CRocksDBEnv

extension Database {
    /// How many of RocksDB's two background pools (flushes, compactions) run at the lowest
    /// CPU priority (nice 19): 2 on Linux, once any database of the process has opened. The
    /// pools belong to RocksDB's default environment, shared by every database the process
    /// opens, so this is the process's setting, made by the first open.
    ///
    /// Why: no caller waits for a flush or a compaction as it runs, while on two cores they
    /// share the cores with the request path (the fold, the commit thread, validation), whose
    /// every wait for a core lengthens a client's round trip. At the lowest priority they run
    /// on what the request path leaves; a write that needs a flush waits on it, and the
    /// request path then leaves the cores to it. RocksDB's C API lowers only the compaction pool, hence
    /// the C++ shim (`CRocksDBEnv`).
    public static let backgroundPoolsLowered: Int = Int(yidang_rocksdb_lower_background_cpu_priority())
}
