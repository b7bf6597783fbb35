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

#endif
