// jemalloc replaces malloc/free for the whole process when the executable links it.
// Swift allocates a small object for almost every String, Array and class instance;
// glibc's allocator spent about a fifth of a bulk import's cycles in malloc, free and
// their consolidation (perf), jemalloc's thread caches make those calls cheap.
#include <jemalloc/jemalloc.h>
