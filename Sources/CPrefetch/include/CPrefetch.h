#ifndef YIDANG_CPREFETCH_H
#define YIDANG_CPREFETCH_H

// The compiler's prefetch instruction, which Swift does not expose: a hint that the
// processor bring a cache line into its caches, without waiting for it. It never faults,
// whatever the address, and changes nothing the program computes.
static inline __attribute__((always_inline)) void yidang_prefetch(const void *address) {
    __builtin_prefetch(address, 0, 3);
}

#endif
