#define _GNU_SOURCE
#include "hot_paths.h"

#if defined(__linux__)
#include <fcntl.h>

int warren_writeback(int fd, int64_t offset, int64_t len, int wait) {
    unsigned int flags = SYNC_FILE_RANGE_WRITE;
    if (wait) flags |= SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WAIT_AFTER;
    return sync_file_range(fd, (off64_t)offset, (off64_t)len, flags);
}

#else

int warren_writeback(int fd, int64_t offset, int64_t len, int wait) {
    (void)fd;
    (void)offset;
    (void)len;
    (void)wait;
    return -1;
}

#endif

#if defined(__linux__)
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

int warren_lower_thread_priority(int nice) {
    return setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), nice);
}

#else

int warren_lower_thread_priority(int nice) {
    (void)nice;
    return -1;
}

#endif
