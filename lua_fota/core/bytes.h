/* Bytes: the little-endian field helpers every on-disk format here uses
 * (package, archive, delta, boot record), the boot record's CRC-32,
 * SHA-256 across mbedTLS 2.x and 3.x (a device may carry either), and hex
 * for digests. Header only. */
#ifndef FOTA_BYTES_H
#define FOTA_BYTES_H

#include <stddef.h>
#include <stdint.h>

#include <mbedtls/sha256.h>
#include <mbedtls/version.h>

#include "core/fota_err.h"

static inline uint16_t fota_get16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t fota_get32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline void fota_put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void fota_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}

/* CRC-32 (IEEE 802.3: reflected, polynomial 0xEDB88320), continuing from
 * crc (0 to start): the value of zlib's crc32(crc, p, n), which the boot
 * record has always carried. Bit by bit: no table, and the record it
 * checks is a few hundred bytes. */
static inline uint32_t fota_crc32(uint32_t crc, const void *p, size_t n)
{
    const uint8_t *b = (const uint8_t *)p;
    crc = ~crc;
    while (n--) {
        crc ^= *b++;
        for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1)));
    }
    return ~crc;
}

/* 1 when all n bytes are zero; constant time (digests are compared with it). */
static inline int fota_is_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++) acc |= p[i];
    return acc == 0;
}

/* Lower-case hex of n bytes into out (2n + 1 bytes, NUL-terminated). */
static inline void fota_hex(const uint8_t *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

/* Non-zero on failure, like the mbedTLS calls they wrap. */
#if MBEDTLS_VERSION_MAJOR >= 3
#define FOTA_SHA256_START(c) mbedtls_sha256_starts((c), 0)
#define FOTA_SHA256_UPDATE(c, p, n) mbedtls_sha256_update((c), (p), (n))
#define FOTA_SHA256_FINISH(c, o) mbedtls_sha256_finish((c), (o))
#define FOTA_MBED_PRIV(x) MBEDTLS_PRIVATE(x)
#else
#define FOTA_SHA256_START(c) mbedtls_sha256_starts_ret((c), 0)
#define FOTA_SHA256_UPDATE(c, p, n) mbedtls_sha256_update_ret((c), (p), (n))
#define FOTA_SHA256_FINISH(c, o) mbedtls_sha256_finish_ret((c), (o))
#define FOTA_MBED_PRIV(x) x
#endif

/* SHA-256 of n bytes in memory: 0 or FOTA_ERR_NOMEM. */
static inline int fota_sha256(const void *p, size_t n, uint8_t out[32])
{
    mbedtls_sha256_context c;
    mbedtls_sha256_init(&c);
    int rc = FOTA_SHA256_START(&c) || FOTA_SHA256_UPDATE(&c, (const unsigned char *)p, n) ||
             FOTA_SHA256_FINISH(&c, out);
    mbedtls_sha256_free(&c);
    return rc ? FOTA_ERR_NOMEM : 0;
}

#endif
