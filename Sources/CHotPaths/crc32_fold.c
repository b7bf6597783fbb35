// CRC-32 by carry-less multiplication ("folding"), after Gopal et al., "Fast CRC Computation for Generic
// Polynomials Using PCLMULQDQ Instruction" (Intel, 2009). The constants are powers of x modulo the CRC-32
// polynomial, bit-reflected, as that paper derives them:
//   K1 = x^(4*128+32) mod P, K2 = x^(4*128-32) mod P   (fold four 128-bit lanes across 512 bits)
//   K3 = x^(128+32) mod P,   K4 = x^(128-32) mod P     (fold one lane into the next)
//   K5 = x^64 mod P                                    (64 bits down to 32)
//   P' = P (33 bits), MU = floor(x^64 / P)             (Barrett reduction)
#include "hot_paths.h"

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>

static const uint64_t K1 = 0x154442bd4, K2 = 0x1c6e41596;
static const uint64_t K3 = 0x1751997d0, K4 = 0x0ccaa009e;
static const uint64_t K5 = 0x163cd6124;
static const uint64_t P_REFLECTED = 0x1db710641, MU = 0x1f7011641;

int warren_crc32_fold_available(void) {
    static int cached = -1;
    if (cached < 0) {
        unsigned a, b, c, d;
        cached = __get_cpuid(1, &a, &b, &c, &d) && (c & bit_PCLMUL) && (c & bit_SSE4_1);
    }
    return cached;
}

// One fold: the lane's low half times `k`'s low, its high half times `k`'s high, added to `next`.
__attribute__((target("pclmul,sse4.1")))
static inline __m128i fold(__m128i lane, __m128i k, __m128i next) {
    __m128i lo = _mm_clmulepi64_si128(lane, k, 0x00);
    __m128i hi = _mm_clmulepi64_si128(lane, k, 0x11);
    return _mm_xor_si128(_mm_xor_si128(lo, hi), next);
}

__attribute__((target("pclmul,sse4.1")))
uint32_t warren_crc32_fold(uint32_t crc, const uint8_t *buf, size_t len) {
    // zlib's crc32 pre- and post-inverts; the folding works on the inverted register.
    __m128i x0 = _mm_xor_si128(_mm_loadu_si128((const __m128i *)buf), _mm_cvtsi32_si128((int)~crc));
    __m128i x1 = _mm_loadu_si128((const __m128i *)(buf + 16));
    __m128i x2 = _mm_loadu_si128((const __m128i *)(buf + 32));
    __m128i x3 = _mm_loadu_si128((const __m128i *)(buf + 48));
    buf += 64;
    len -= 64;

    __m128i k = _mm_set_epi64x((long long)K2, (long long)K1);
    while (len >= 64) {
        x0 = fold(x0, k, _mm_loadu_si128((const __m128i *)buf));
        x1 = fold(x1, k, _mm_loadu_si128((const __m128i *)(buf + 16)));
        x2 = fold(x2, k, _mm_loadu_si128((const __m128i *)(buf + 32)));
        x3 = fold(x3, k, _mm_loadu_si128((const __m128i *)(buf + 48)));
        buf += 64;
        len -= 64;
    }

    k = _mm_set_epi64x((long long)K4, (long long)K3);
    x0 = fold(x0, k, x1);
    x0 = fold(x0, k, x2);
    x0 = fold(x0, k, x3);
    while (len >= 16) {
        x0 = fold(x0, k, _mm_loadu_si128((const __m128i *)buf));
        buf += 16;
        len -= 16;
    }

    // 128 bits to 64: the low half times K4, added to the high half moved down.
    __m128i t = _mm_clmulepi64_si128(x0, k, 0x10);
    x0 = _mm_xor_si128(_mm_srli_si128(x0, 8), t);

    // 64 bits to 32: the low 32 bits times K5, added to the rest moved down.
    const __m128i low32 = _mm_setr_epi32(-1, 0, -1, 0);
    t = _mm_srli_si128(x0, 4);
    x0 = _mm_clmulepi64_si128(_mm_and_si128(x0, low32), _mm_set_epi64x(0, (long long)K5), 0x00);
    x0 = _mm_xor_si128(x0, t);

    // Barrett reduction to the 32-bit remainder.
    const __m128i poly = _mm_set_epi64x((long long)MU, (long long)P_REFLECTED);
    t = _mm_clmulepi64_si128(_mm_and_si128(x0, low32), poly, 0x10);
    t = _mm_clmulepi64_si128(_mm_and_si128(t, low32), poly, 0x00);
    x0 = _mm_xor_si128(x0, t);
    return ~(uint32_t)_mm_extract_epi32(x0, 1);
}

#else

int warren_crc32_fold_available(void) { return 0; }

uint32_t warren_crc32_fold(uint32_t crc, const uint8_t *buf, size_t len) {
    (void)buf;
    (void)len;
    return crc;  // never called: warren_crc32_fold_available() is 0
}

#endif
