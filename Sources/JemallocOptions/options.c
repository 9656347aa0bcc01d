#include "JemallocOptions.h"

#ifdef __linux__
#include <sys/prctl.h>
#endif

// jemalloc runs with its default options (MALLOC_CONF sets others, see jemalloc(3)), on
// small pages. `malloc_conf = "thp:always"` (huge pages for the heap) cut a rebuild's page
// faults ten-fold, but every 2 MiB fault zeroes the whole page in the kernel: in hand runs
// with MALLOC_CONF on one binary, imports spent 1.5-2.9 s of system time instead of 0.5-0.7
// and ran 15-30 % slower, and rebuilds were no faster (Benchmarks/RESULTS.md, "Twentieth
// session").

int yidang_disable_transparent_huge_pages(void) {
#ifdef __linux__
    return prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0);
#else
    return 0;  // no transparent huge pages to decline
#endif
}
