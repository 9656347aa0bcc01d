// The process's jemalloc options (see options.c): linking the target sets them.
#ifndef YIDANG_JEMALLOC_OPTIONS_H
#define YIDANG_JEMALLOC_OPTIONS_H
extern const char *malloc_conf;

/// Asks the kernel to back this process with small pages only (PR_SET_THP_DISABLE), whatever
/// jemalloc asks for: for a long-running server, whose latency and memory were measured
/// with small pages (huge pages raised `serve`'s peak RSS 385 -> 439 MiB in a suite). Returns
/// prctl's result (0 on success).
int yidang_disable_transparent_huge_pages(void);
#endif
