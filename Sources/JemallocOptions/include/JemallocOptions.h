// How the process's memory is backed (see options.c).
#ifndef YIDANG_JEMALLOC_OPTIONS_H
#define YIDANG_JEMALLOC_OPTIONS_H

/// Asks the kernel to back this process with small pages only (PR_SET_THP_DISABLE), also on
/// a machine whose transparent huge pages are on for every process: huge pages raised
/// `serve`'s peak RSS 385 -> 439 MiB and its publish p99 in a suite, and made imports slower
/// (each fault zeroes 2 MiB). Returns prctl's result (0 on success).
int yidang_disable_transparent_huge_pages(void);
#endif
