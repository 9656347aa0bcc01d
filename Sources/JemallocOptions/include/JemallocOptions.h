// The process's jemalloc options (see options.c). Nothing to call: linking the target is
// what sets them.
#ifndef YIDANG_JEMALLOC_OPTIONS_H
#define YIDANG_JEMALLOC_OPTIONS_H
extern const char *malloc_conf;
#endif
