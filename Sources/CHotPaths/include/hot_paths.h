#ifndef WARREN_HOT_PATHS_H
#define WARREN_HOT_PATHS_H

#include <stddef.h>
#include <stdint.h>

/// Whether `warren_crc32_fold` can run here (x86-64 with PCLMULQDQ and SSE4.1, checked once with CPUID).
int warren_crc32_fold_available(void);

/// zlib's CRC-32 (reflected polynomial 0xEDB88320) of `len` bytes continuing from `crc`, computed by folding
/// 64 bytes per step with carry-less multiplication. Requires `warren_crc32_fold_available()`, `len >= 64` and
/// `len % 16 == 0`; the caller finishes any tail with zlib's `crc32`.
uint32_t warren_crc32_fold(uint32_t crc, const uint8_t *buf, size_t len);

/// Maps in the whole pages inside [p, p + len) for writing in one call (MADV_POPULATE_WRITE, Linux 5.14) instead of
/// one page fault per page, for a buffer about to be filled front to back. A hint: returns -1 and changes nothing
/// for buffers under 64 KiB or where the kernel does not support it.
int warren_populate_write(void *p, size_t len);

/// Starts writeback of the dirty pages of [offset, offset + len) of `fd` (sync_file_range's SYNC_FILE_RANGE_WRITE),
/// and with `wait` also waits for that range's writeback to finish. Not a durability barrier (no metadata, no
/// device cache flush): it keeps a large file being written from piling up dirty pages that a later fsync of
/// *another* file (the transaction log's) would have to wait for. Returns -1 where unsupported.
int warren_writeback(int fd, int64_t offset, int64_t len, int wait);

/// Sets the calling thread's (not the process's) nice value; Linux only (-1 elsewhere or on failure). Raising it
/// back needs privileges, so call it only on a thread that ends after the work.
int warren_lower_thread_priority(int nice);

#endif
