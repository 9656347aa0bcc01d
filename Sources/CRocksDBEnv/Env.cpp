#include "CRocksDBEnv.h"
#include <rocksdb/env.h>

extern "C" int yidang_rocksdb_lower_background_cpu_priority(void) {
    rocksdb::Env *env = rocksdb::Env::Default();
    int lowered = 0;
    for (auto pool : {rocksdb::Env::Priority::HIGH, rocksdb::Env::Priority::LOW}) {
        if (env->LowerThreadPoolCPUPriority(pool, rocksdb::CpuPriority::kLow).ok()) lowered += 1;
    }
    return lowered;
}
