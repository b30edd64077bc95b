/* require "fota.crypto": LuatOS's crypto module on the desktop, over mbedTLS.
 * Digests come back as upper-case hex strings and CRCs as integers, as on a
 * module; the CRC16 method names and their parameters are LuatOS's. Bad
 * argument types are Lua errors naming the argument. */
#include <stdint.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <mbedtls/base64.h>
#include <mbedtls/entropy.h>
#include <mbedtls/md.h>

#include "lua/lzbuff.h"

#define TRNG_MAX 128u   /* LuatOS's crypto.trng gives at most 128 bytes */

static void push_hex(lua_State *L, const unsigned char *p, size_t n)
{
    static const char digits[] = "0123456789ABCDEF";
    char out[2 * MBEDTLS_MD_MAX_SIZE];
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    lua_pushlstring(L, out, 2 * n);
}

/* Digest (key == NULL) or HMAC of data; pushes the hex string. */
static int push_md(lua_State *L, mbedtls_md_type_t type, const char *data, size_t n,
                   const char *key, size_t keylen)
{
    const mbedtls_md_info_t *info = mbedtls_md_info_from_type(type);
    unsigned char out[MBEDTLS_MD_MAX_SIZE];
    int rc;
    if (!info)
        return luaL_error(L, "digest not available in this mbedTLS");
    rc = key ? mbedtls_md_hmac(info, (const unsigned char *)key, keylen, (const unsigned char *)data, n, out)
             : mbedtls_md(info, (const unsigned char *)data, n, out);
    if (rc != 0)
        return 0;   /* LuatOS returns nothing when the digest fails */
    push_hex(L, out, mbedtls_md_get_size(info));
    return 1;
}

static int digest(lua_State *L, mbedtls_md_type_t type)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    return push_md(L, type, s, n, NULL, 0);
}

static int hmac(lua_State *L, mbedtls_md_type_t type)
{
    size_t n, k;
    const char *s = luaL_checklstring(L, 1, &n);
    const char *key = luaL_checklstring(L, 2, &k);
    return push_md(L, type, s, n, key, k);
}

static int l_md5(lua_State *L) { return digest(L, MBEDTLS_MD_MD5); }
static int l_sha1(lua_State *L) { return digest(L, MBEDTLS_MD_SHA1); }
static int l_sha256(lua_State *L) { return digest(L, MBEDTLS_MD_SHA256); }
static int l_sha512(lua_State *L) { return digest(L, MBEDTLS_MD_SHA512); }
static int l_hmac_md5(lua_State *L) { return hmac(L, MBEDTLS_MD_MD5); }
static int l_hmac_sha1(lua_State *L) { return hmac(L, MBEDTLS_MD_SHA1); }
static int l_hmac_sha256(lua_State *L) { return hmac(L, MBEDTLS_MD_SHA256); }
static int l_hmac_sha512(lua_State *L) { return hmac(L, MBEDTLS_MD_SHA512); }

/* LuatOS's names for crypto.md(tp, data[, hmac_key]). */
static int md_type_arg(lua_State *L, int arg)
{
    static const char *const names[] = { "MD5", "SHA1", "SHA224", "SHA256", "SHA384", "SHA512", NULL };
    static const mbedtls_md_type_t types[] = { MBEDTLS_MD_MD5, MBEDTLS_MD_SHA1, MBEDTLS_MD_SHA224,
                                               MBEDTLS_MD_SHA256, MBEDTLS_MD_SHA384, MBEDTLS_MD_SHA512 };
    return (int)types[luaL_checkoption(L, arg, NULL, names)];
}

static int l_md(lua_State *L)
{
    mbedtls_md_type_t type = (mbedtls_md_type_t)md_type_arg(L, 1);
    size_t n, k = 0;
    const char *s = luaL_checklstring(L, 2, &n);
    const char *key = lua_isnoneornil(L, 3) ? NULL : luaL_checklstring(L, 3, &k);
    return push_md(L, type, s, n, key, k);
}

/* v's low bits, mirrored (reflected CRC parameters). */
static uint32_t reflect(uint32_t v, int bits)
{
    uint32_t r = 0;
    for (int i = 0; i < bits; i++)
        if (v & (1u << i))
            r |= 1u << (bits - 1 - i);
    return r;
}

/* Data for a CRC: a string, or a zbuff from its cursor to its end (LuatOS). */
static const unsigned char *crc_data(lua_State *L, int arg, size_t *n)
{
    const uint8_t *p;
    size_t used, cap;
    if (lfota_zbuff_bytes(L, arg, &p, &used, &cap)) {
        *n = cap - used;
        return p + used;
    }
    return (const unsigned char *)luaL_checklstring(L, arg, n);
}

static lua_Integer opt_u(lua_State *L, int arg, lua_Integer def, lua_Integer max)
{
    lua_Integer v = luaL_optinteger(L, arg, def);
    luaL_argcheck(L, v >= 0 && v <= max, arg, "out of range");
    return v;
}

/* crypto.crc16(method, data[, poly, initial, finally, inReverse, outReverse]):
 * the method gives the defaults, the numbers override them (as in LuatOS). */
static int l_crc16(lua_State *L)
{
    static const char *const names[] = { "IBM", "MAXIM", "USB", "MODBUS", "CCITT", "CCITT-FALSE",
                                         "X25", "XMODEM", "DNP", "USER-DEFINED", NULL };
    static const struct { uint16_t poly, init, xorout; uint8_t refin; } m[] = {
        { 0x8005, 0x0000, 0x0000, 1 }, { 0x8005, 0x0000, 0xffff, 1 }, { 0x8005, 0xffff, 0xffff, 1 },
        { 0x8005, 0xffff, 0x0000, 1 }, { 0x1021, 0x0000, 0x0000, 1 }, { 0x1021, 0xffff, 0x0000, 0 },
        { 0x1021, 0xffff, 0xffff, 1 }, { 0x1021, 0x0000, 0x0000, 0 }, { 0x3d65, 0x0000, 0xffff, 1 },
        { 0x0000, 0x0000, 0x0000, 0 },
    };
    int i = luaL_checkoption(L, 1, NULL, names);
    size_t n;
    const unsigned char *p = crc_data(L, 2, &n);
    uint16_t poly = (uint16_t)opt_u(L, 3, m[i].poly, 0xffff);
    uint16_t crc = (uint16_t)opt_u(L, 4, m[i].init, 0xffff);
    uint16_t xorout = (uint16_t)opt_u(L, 5, m[i].xorout, 0xffff);
    int refin = (int)opt_u(L, 6, m[i].refin, 1);
    int refout = (int)opt_u(L, 7, 0, 1);
    /* A reflected CRC runs LSB first with the reflected polynomial; its
     * result is already reflected. outReverse reflects once more. */
    uint16_t rpoly = (uint16_t)reflect(poly, 16);
    for (size_t k = 0; k < n; k++) {
        if (refin) {
            crc ^= p[k];
            for (int b = 0; b < 8; b++)
                crc = (crc & 1) ? (uint16_t)((crc >> 1) ^ rpoly) : (uint16_t)(crc >> 1);
        } else {
            crc ^= (uint16_t)(p[k] << 8);
            for (int b = 0; b < 8; b++)
                crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ poly) : (uint16_t)(crc << 1);
        }
    }
    crc ^= xorout;
    lua_pushinteger(L, refout ? reflect(crc, 16) : crc);
    return 1;
}

/* crypto.crc16_modbus(data): CRC-16/MODBUS. */
static int l_crc16_modbus(lua_State *L)
{
    size_t n;
    const unsigned char *p = (const unsigned char *)luaL_checklstring(L, 1, &n);
    uint16_t crc = 0xffff;
    for (size_t k = 0; k < n; k++) {
        crc ^= p[k];
        for (int b = 0; b < 8; b++)
            crc = (crc & 1) ? (uint16_t)((crc >> 1) ^ 0xa001) : (uint16_t)(crc >> 1);
    }
    lua_pushinteger(L, crc);
    return 1;
}

/* crypto.crc32(data[, start, poly, endv]): reflected, defaults CRC-32. */
static int l_crc32(lua_State *L)
{
    size_t n;
    const unsigned char *p = (const unsigned char *)luaL_checklstring(L, 1, &n);
    uint32_t crc = (uint32_t)opt_u(L, 2, 0xffffffff, 0xffffffff);
    uint32_t poly = (uint32_t)opt_u(L, 3, 0x04c11db7, 0xffffffff);
    uint32_t xorout = (uint32_t)opt_u(L, 4, 0xffffffff, 0xffffffff);
    uint32_t rpoly = reflect(poly ? poly : 0x04c11db7, 32);   /* LuatOS: 0 is the standard polynomial */
    for (size_t k = 0; k < n; k++) {
        crc ^= p[k];
        for (int b = 0; b < 8; b++)
            crc = (crc & 1) ? (crc >> 1) ^ rpoly : crc >> 1;
    }
    lua_pushinteger(L, (lua_Integer)(crc ^ xorout));
    return 1;
}

/* crypto.crc8(data[, poly, start, revert]): without a poly, 0x07 from 0 MSB
 * first; revert runs LSB first with the reflected polynomial (LuatOS). */
static int l_crc8(lua_State *L)
{
    size_t n;
    const unsigned char *p = (const unsigned char *)luaL_checklstring(L, 1, &n);
    uint8_t poly = 0x07, crc = 0;
    int rev = 0;
    if (lua_isinteger(L, 2)) {
        poly = (uint8_t)opt_u(L, 2, 0, 0xff);
        crc = (uint8_t)opt_u(L, 3, 0, 0xff);
        rev = lua_toboolean(L, 4);
    }
    if (rev)
        poly = (uint8_t)reflect(poly, 8);
    for (size_t k = 0; k < n; k++) {
        crc ^= p[k];
        for (int b = 0; b < 8; b++) {
            if (rev)
                crc = (crc & 1) ? (uint8_t)((crc >> 1) ^ poly) : (uint8_t)(crc >> 1);
            else
                crc = (crc & 0x80) ? (uint8_t)((crc << 1) ^ poly) : (uint8_t)(crc << 1);
        }
    }
    lua_pushinteger(L, crc);
    return 1;
}

/* crypto.checksum(data[, mode]): XOR of the bytes (0) or their sum (1). */
static int l_checksum(lua_State *L)
{
    size_t n;
    const unsigned char *p = (const unsigned char *)luaL_checklstring(L, 1, &n);
    int sum = luaL_optinteger(L, 2, 0) == 1;
    uint8_t c = 0;
    for (size_t k = 0; k < n; k++)
        c = sum ? (uint8_t)(c + p[k]) : (uint8_t)(c ^ p[k]);
    lua_pushinteger(L, c);
    return 1;
}

/* crypto.base64_encode(data) / string.toBase64. */
static int l_b64enc(lua_State *L)
{
    size_t n, olen = 0;
    const unsigned char *s = (const unsigned char *)luaL_checklstring(L, 1, &n);
    luaL_Buffer b;
    size_t cap;
    luaL_argcheck(L, n <= (SIZE_MAX / 4) * 3 - 4, 1, "data too long");
    cap = (n + 2) / 3 * 4 + 1;
    if (mbedtls_base64_encode((unsigned char *)luaL_buffinitsize(L, &b, cap), cap, &olen, s, n) != 0)
        olen = 0;
    luaL_pushresultsize(&b, olen);
    return 1;
}

/* crypto.base64_decode(data) / string.fromBase64: "" when it is no base64. */
static int l_b64dec(lua_State *L)
{
    size_t n, olen = 0;
    const unsigned char *s = (const unsigned char *)luaL_checklstring(L, 1, &n);
    luaL_Buffer b;
    size_t cap = n / 4 * 3 + 3;
    if (mbedtls_base64_decode((unsigned char *)luaL_buffinitsize(L, &b, cap), cap, &olen, s, n) != 0)
        olen = 0;
    luaL_pushresultsize(&b, olen);
    return 1;
}

/* crypto.trng(len): len random bytes (at most 128, nothing when len < 1),
 * from mbedTLS's entropy source (the OS's). */
static int l_trng(lua_State *L)
{
    lua_Integer want = luaL_checkinteger(L, 1);
    unsigned char buf[TRNG_MAX];
    mbedtls_entropy_context e;
    size_t n, got = 0;
    int rc = 0;
    if (want < 1)
        return 0;
    n = (lua_Unsigned)want > TRNG_MAX ? TRNG_MAX : (size_t)want;
    mbedtls_entropy_init(&e);
    while (rc == 0 && got < n) {
        size_t k = n - got > MBEDTLS_ENTROPY_BLOCK_SIZE ? MBEDTLS_ENTROPY_BLOCK_SIZE : n - got;
        rc = mbedtls_entropy_func(&e, buf + got, k);
        got += k;
    }
    mbedtls_entropy_free(&e);
    if (rc != 0)
        return 0;
    lua_pushlstring(L, (const char *)buf, n);
    return 1;
}

int luaopen_fota_crypto(lua_State *L)
{
    static const luaL_Reg funcs[] = {
        { "md5", l_md5 }, { "sha1", l_sha1 }, { "sha256", l_sha256 }, { "sha512", l_sha512 },
        { "hmac_md5", l_hmac_md5 }, { "hmac_sha1", l_hmac_sha1 }, { "hmac_sha256", l_hmac_sha256 },
        { "hmac_sha512", l_hmac_sha512 }, { "md", l_md },
        { "crc8", l_crc8 }, { "crc16", l_crc16 }, { "crc16_modbus", l_crc16_modbus }, { "crc32", l_crc32 },
        { "checksum", l_checksum },
        { "base64_encode", l_b64enc }, { "base64_decode", l_b64dec }, { "trng", l_trng },
        { NULL, NULL }
    };
    luaL_newlib(L, funcs);
    return 1;
}
