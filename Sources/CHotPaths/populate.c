#include "hot_paths.h"

#if defined(__linux__)
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

// Below this a buffer is not worth a system call.
static const size_t POPULATE_BYTES_MIN = 64 << 10;

int warren_populate_write(void *p, size_t len) {
    if (p == NULL || len < POPULATE_BYTES_MIN) return -1;
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t start = ((uintptr_t)p + page - 1) & ~(page - 1);
    uintptr_t end = ((uintptr_t)p + len) & ~(page - 1);
    if (end <= start) return -1;
    return madvise((void *)start, end - start, MADV_POPULATE_WRITE);
}

#else

int warren_populate_write(void *p, size_t len) {
    (void)p;
    (void)len;
    return -1;
}

#endif
