#ifndef MALLOC_COUNTER_H
#define MALLOC_COUNTER_H
#include <stdint.h>

/* Heap allocations (malloc, calloc, realloc, the aligned forms) made by the whole
   process since it started, by every thread: the benchmark's allocation counter. It
   works by defining malloc and friends in the executable, which the dynamic linker
   then prefers for every library (the Swift runtime, liblua, libpcap), and passing
   each call on to glibc's own __libc_* functions. Linked into the benchmark only. */
uint64_t malloc_counter_allocations(void);

#endif
