#include "JemallocOptions.h"

#ifdef __linux__
#include <sys/prctl.h>
#endif

// jemalloc reads its options from this symbol when the process starts (before main; the
// MALLOC_CONF environment variable still overrides it, see jemalloc(3)).
//
// thp:always: jemalloc asks for transparent huge pages for its memory (madvise), so a
// process that builds a few hundred megabytes of state takes a page fault per 2 MiB instead
// of per 4 KiB. A rebuild of the benchmark's city faulted 53,600 times and 4,800 with it;
// hand runs in Benchmarks/RESULTS.md (twelfth session). `yidang serve` declines them (below).
const char *malloc_conf = "thp:always";

int yidang_disable_transparent_huge_pages(void) {
#ifdef __linux__
    return prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0);
#else
    return 0;  // no transparent huge pages to decline
#endif
}
