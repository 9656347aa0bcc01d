#ifndef YIDANG_CROCKSDBENV_H
#define YIDANG_CROCKSDBENV_H

#ifdef __cplusplus
extern "C" {
#endif

/// Lowers the CPU priority (nice 19 on Linux) of the threads of RocksDB's default
/// environment that run flushes (the high-priority pool) and compactions (the low-priority
/// pool), for every database the process opens: each thread lowers itself before its next
/// job. RocksDB's C API can lower only the compaction pool. Returns how many of the two
/// pools RocksDB lowered (0 where it cannot, outside Linux).
int yidang_rocksdb_lower_background_cpu_priority(void);

#ifdef __cplusplus
}
#endif

#endif
