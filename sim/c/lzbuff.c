/* require "fota.zbuff": LuatOS's zbuff (a byte buffer with a cursor, what
 * UART/MQTT code fills and passes to fota.run) without the frame-buffer
 * drawing calls. The simulator installs it as the global zbuff.
 *
 * As in LuatOS the cursor and "used" are one value: write/read/pack/unpack
 * move it, copy/del/used(n) set it. Every offset and length is checked
 * against the buffer: out of range is clamped or refused as LuatOS does
 * (nothing read, 0 written), never a read or write outside the memory.
 * Multi-byte numbers of readXX/writeXX and "=" in pack are little endian, a
 * module's native order, whatever the desktop's. */
#include "lua/lzbuff.h"

#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <mbedtls/base64.h>

#define ZBUFF_MAX (16u * 1024u * 1024u)
#define PACK_REPEAT_MAX 65536   /* most repeats of one pack/unpack letter */

typedef struct {
    uint8_t *addr;   /* NULL after free() (len 0 then) */
    size_t len;      /* capacity */
    size_t used;     /* the cursor: bytes written so far */
} zbuff;

static zbuff *check(lua_State *L)
{
    return (zbuff *)luaL_checkudata(L, 1, LFOTA_ZBUFF);
}

/* Bytes at off for reading; never NULL, so an empty range is a valid one. */
static const uint8_t *at(const zbuff *z, size_t off)
{
    return z->addr ? z->addr + off : (const uint8_t *)"";
}

static void push_range(lua_State *L, const zbuff *z, size_t off, size_t n)
{
    lua_pushlstring(L, (const char *)at(z, off), n);
}

int lfota_zbuff_bytes(lua_State *L, int idx, const uint8_t **p, size_t *used, size_t *cap)
{
    zbuff *z = (zbuff *)luaL_testudata(L, idx, LFOTA_ZBUFF);
    if (!z)
        return 0;
    *p = at(z, 0);
    *used = z->used;
    *cap = z->len;
    return 1;
}

/* Copies what fits of n bytes to the cursor, which advances; the count. */
static size_t put(zbuff *z, const void *src, size_t n)
{
    size_t room = z->len - z->used;
    if (n > room)
        n = room;
    if (n) {
        memcpy(z->addr + z->used, src, n);
        z->used += n;
    }
    return n;
}

/* New capacity len (1..16 MiB), new bytes zeroed; the cursor stays inside. */
static int set_capacity(zbuff *z, size_t len)
{
    uint8_t *p;
    if (len < 1 || len > ZBUFF_MAX)
        return 0;
    p = realloc(z->addr, len);
    if (!p)
        return 0;
    if (len > z->len)
        memset(p + z->len, 0, len - z->len);
    z->addr = p;
    z->len = len;
    if (z->used > len)
        z->used = len;
    return 1;
}

/* zbuff.create(len[, fill byte | initial string]); a string is copied (what
 * fits) and the cursor set after it, as in LuatOS. */
static int l_create(lua_State *L)
{
    lua_Integer len = luaL_checkinteger(L, 1);
    zbuff *z;
    luaL_argcheck(L, len >= 1 && (lua_Unsigned)len <= ZBUFF_MAX, 1, "length out of range (1..16 MiB)");
    z = (zbuff *)lua_newuserdata(L, sizeof *z);
    z->addr = NULL;
    z->len = 0;
    z->used = 0;
    luaL_setmetatable(L, LFOTA_ZBUFF);
    if (!set_capacity(z, (size_t)len))
        return luaL_error(L, "out of memory");
    if (lua_type(L, 2) == LUA_TNUMBER) {
        memset(z->addr, (int)(luaL_checkinteger(L, 2) & 0xff), z->len);
    } else if (lua_type(L, 2) == LUA_TSTRING) {
        size_t n;
        const char *s = lua_tolstring(L, 2, &n);
        put(z, s, n);
    }
    return 1;
}

/* buff:write(str | byte, ...) -> bytes written (stops at the end). */
static int l_write(lua_State *L)
{
    zbuff *z = check(L);
    size_t total = 0;
    int n = lua_gettop(L);
    for (int i = 2; i <= n; i++) {
        if (lua_type(L, i) == LUA_TSTRING) {
            size_t k;
            const char *s = lua_tolstring(L, i, &k);
            total += put(z, s, k);
        } else {
            uint8_t b = (uint8_t)(luaL_checkinteger(L, i) & 0xff);
            total += put(z, &b, 1);
        }
    }
    lua_pushinteger(L, (lua_Integer)total);
    return 1;
}

/* buff:read([n]) -> up to n (default 1) bytes from the cursor, which advances. */
static int l_read(lua_State *L)
{
    zbuff *z = check(L);
    lua_Integer want = luaL_optinteger(L, 2, 1);
    size_t k = z->len - z->used;
    if (want < 0)
        want = 0;
    if ((lua_Unsigned)want < k)
        k = (size_t)want;
    push_range(L, z, z->used, k);
    z->used += k;
    return 1;
}

/* buff:toStr([offset[, length]]): bytes, cursor unmoved; a negative length
 * gives "" (LuatOS). */
static int l_tostr(lua_State *L)
{
    zbuff *z = check(L);
    lua_Integer o = luaL_optinteger(L, 2, 0);
    lua_Integer l = luaL_optinteger(L, 3, (lua_Integer)z->len);
    size_t off, n;
    luaL_argcheck(L, o >= 0, 2, "negative offset");
    off = (lua_Unsigned)o < z->len ? (size_t)o : z->len;
    n = l < 0 ? 0 : (lua_Unsigned)l < z->len - off ? (size_t)l : z->len - off;
    push_range(L, z, off, n);
    return 1;
}

/* buff:seek(offset[, whence]) -> cursor; whence zbuff.SEEK_SET/CUR/END. */
static int l_seek(lua_State *L)
{
    zbuff *z = check(L);
    lua_Integer off = luaL_checkinteger(L, 2);
    lua_Integer whence = luaL_optinteger(L, 3, 0);
    lua_Integer base = whence == 1 ? (lua_Integer)z->used : whence == 2 ? (lua_Integer)z->len : 0;
    lua_Integer pos;
    luaL_argcheck(L, whence >= 0 && whence <= 2, 3, "SEEK_SET, SEEK_CUR or SEEK_END expected");
    if (off < -2 * (lua_Integer)ZBUFF_MAX)   /* far outside: clamped below, and no overflow */
        off = -2 * (lua_Integer)ZBUFF_MAX;
    if (off > 2 * (lua_Integer)ZBUFF_MAX)
        off = 2 * (lua_Integer)ZBUFF_MAX;
    pos = base + off;
    if (pos < 0)
        pos = 0;
    if ((lua_Unsigned)pos > z->len)
        pos = (lua_Integer)z->len;
    z->used = (size_t)pos;
    lua_pushinteger(L, pos);
    return 1;
}

/* buff:used([n]) -> the cursor; n (clamped to the length) sets it. */
static int l_used(lua_State *L)
{
    zbuff *z = check(L);
    if (lua_isinteger(L, 2)) {
        lua_Integer n = lua_tointeger(L, 2);
        luaL_argcheck(L, n >= 0, 2, "negative");
        z->used = (lua_Unsigned)n < z->len ? (size_t)n : z->len;
    }
    lua_pushinteger(L, (lua_Integer)z->used);
    return 1;
}

static int l_len(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)check(L)->len);
    return 1;
}

/* An offset counted back from the cursor when negative (LuatOS's del/query/
 * copy); -1 when even that is before the start. */
static lua_Integer from_used(const zbuff *z, lua_Integer o)
{
    if (o < 0) {
        o += (lua_Integer)z->used;
        if (o < 0)
            return -1;
    }
    return o;
}

/* buff:del([offset[, length]]): removes bytes of the written part (offset
 * < 0 counts from the cursor); the rest moves up and the cursor back. */
static int l_del(lua_State *L)
{
    zbuff *z = check(L);
    lua_Integer o = from_used(z, luaL_optinteger(L, 2, 0));
    lua_Integer l = luaL_optinteger(L, 3, (lua_Integer)z->used);
    size_t off, n;
    if (o < 0 || (lua_Unsigned)o >= z->used || l <= 0)
        return 0;
    off = (size_t)o;
    n = (lua_Unsigned)l < z->used - off ? (size_t)l : z->used - off;
    if (z->used - off - n)
        memmove(z->addr + off, z->addr + off + n, z->used - off - n);
    z->used -= n;
    return 0;
}

/* buff:clear([fill]): every byte set; the cursor stays (LuatOS). */
static int l_clear(lua_State *L)
{
    zbuff *z = check(L);
    int fill = (int)(luaL_optinteger(L, 2, 0) & 0xff);
    if (z->len)
        memset(z->addr, fill, z->len);
    return 0;
}

/* buff:set([start[, byte[, len]]]): memset of the range, clamped. */
static int l_set(lua_State *L)
{
    zbuff *z = check(L);
    lua_Integer s = luaL_optinteger(L, 2, 0);
    int fill = (int)(luaL_optinteger(L, 3, 0) & 0xff);
    lua_Integer l = luaL_optinteger(L, 4, (lua_Integer)z->len);
    size_t n;
    luaL_argcheck(L, s >= 0, 2, "negative start");
    luaL_argcheck(L, l >= 0, 4, "negative length");
    if ((lua_Unsigned)s >= z->len)
        return 0;
    n = (lua_Unsigned)l < z->len - (size_t)s ? (size_t)l : z->len - (size_t)s;
    if (n)
        memset(z->addr + s, fill, n);
    return 0;
}

static int l_resize(lua_State *L)
{
    zbuff *z = check(L);
    lua_Integer len = luaL_checkinteger(L, 2);
    luaL_argcheck(L, len >= 1 && (lua_Unsigned)len <= ZBUFF_MAX, 2, "length out of range (1..16 MiB)");
    if (!set_capacity(z, (size_t)len))
        return luaL_error(L, "out of memory");
    return 0;
}

/* buff:free(): releases the memory now (len 0 after); the object stays. */
static int l_free(lua_State *L)
{
    zbuff *z = check(L);
    free(z->addr);
    z->addr = NULL;
    z->len = z->used = 0;
    return 0;
}

/* Capacity for at least end bytes, grown to want when larger is needed. */
static int room_for(zbuff *z, size_t end, size_t want)
{
    if (end <= z->len)
        return 1;
    if (want > ZBUFF_MAX)
        want = ZBUFF_MAX;
    return set_capacity(z, want < end ? end : want);
}

/* buff:copy(start, str | zbuff[, from, len] | byte, ...) -> bytes copied.
 * Writes at start (nil: the cursor; < 0: back from it), growing the buffer
 * as LuatOS does (up to 16 MiB); the cursor moves to the end if beyond. */
static int l_copy(lua_State *L)
{
    zbuff *z = check(L);
    lua_Integer s = lua_isnoneornil(L, 2) ? (lua_Integer)z->used : from_used(z, luaL_checkinteger(L, 2));
    size_t pos, n = 0, from = 0;
    const char *str = NULL;
    zbuff *z2 = NULL;
    if (s < 0 || (lua_Unsigned)s > ZBUFF_MAX) {
        lua_pushinteger(L, 0);
        return 1;
    }
    pos = (size_t)s;
    if (lua_isinteger(L, 3)) {
        int top = lua_gettop(L);
        for (int i = 3; i <= top && lua_isinteger(L, i); i++, pos++, n++) {
            if (!room_for(z, pos + 1, pos * 2))
                break;
            z->addr[pos] = (uint8_t)(lua_tointeger(L, i) & 0xff);
        }
    } else {
        if (lua_type(L, 3) == LUA_TSTRING) {
            str = lua_tolstring(L, 3, &n);
        } else if ((z2 = (zbuff *)luaL_testudata(L, 3, LFOTA_ZBUFF)) != NULL) {
            lua_Integer f = luaL_optinteger(L, 4, 0);
            lua_Integer l = luaL_optinteger(L, 5, (lua_Integer)z2->used);
            luaL_argcheck(L, f >= 0 && (lua_Unsigned)f <= z2->len, 4, "offset out of range");
            luaL_argcheck(L, l >= 0, 5, "negative length");
            from = (size_t)f;
            n = (lua_Unsigned)l < z2->len - from ? (size_t)l : z2->len - from;
        } else {
            return luaL_argerror(L, 3, "string, zbuff or bytes expected");
        }
        if (n && (n > ZBUFF_MAX || !room_for(z, pos + n, z->len + n + pos))) {
            lua_pushinteger(L, 0);
            return 1;
        }
        /* after any growth: the source may be this very buffer */
        if (n)
            memmove(z->addr + pos, str ? (const uint8_t *)str : at(z2, from), n);
        pos += n;
    }
    if (pos > z->used && n)
        z->used = pos;
    lua_pushinteger(L, (lua_Integer)n);
    return 1;
}

/* buff:isEqual([start], buff2[, start2[, len]]) -> equal, first differing
 * index (0 when equal). Ranges beyond a buffer are an error. */
static int l_isequal(lua_State *L)
{
    zbuff *z = check(L);
    lua_Integer s1 = luaL_optinteger(L, 2, 0);
    zbuff *z2 = (zbuff *)luaL_checkudata(L, 3, LFOTA_ZBUFF);
    lua_Integer s2 = luaL_optinteger(L, 4, 0);
    lua_Integer l = luaL_optinteger(L, 5, 1);
    luaL_argcheck(L, s1 >= 0 && (lua_Unsigned)s1 <= z->len, 2, "start out of range");
    luaL_argcheck(L, s2 >= 0 && (lua_Unsigned)s2 <= z2->len, 4, "start out of range");
    luaL_argcheck(L, l >= 0 && (lua_Unsigned)l <= z->len - (size_t)s1 && (lua_Unsigned)l <= z2->len - (size_t)s2,
                  5, "length beyond a buffer");
    for (lua_Integer i = 0; i < l; i++) {
        if (z->addr[s1 + i] != z2->addr[s2 + i]) {
            lua_pushboolean(L, 0);
            lua_pushinteger(L, i);
            return 2;
        }
    }
    lua_pushboolean(L, 1);
    lua_pushinteger(L, 0);
    return 2;
}

/* buff:toBase64(dst) -> length: base64 of the written part into dst (its
 * cursor set to the length); 0 when dst is too small. */
static int l_tobase64(lua_State *L)
{
    zbuff *z = check(L);
    zbuff *d = (zbuff *)luaL_checkudata(L, 2, LFOTA_ZBUFF);
    size_t olen = 0;
    if (d->len == 0 || mbedtls_base64_encode(d->addr, d->len, &olen, at(z, 0), z->used) != 0) {
        lua_pushinteger(L, 0);
        return 1;
    }
    d->used = olen;
    lua_pushinteger(L, (lua_Integer)olen);
    return 1;
}

/* ---- numbers: pack/unpack (LuatOS's lpack letters), readXX/writeXX, query */

static void put_uint(uint8_t *p, int n, uint64_t v, int big)
{
    for (int i = 0; i < n; i++)
        p[big ? n - 1 - i : i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_uint(const uint8_t *p, int n, int big)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v |= (uint64_t)p[big ? n - 1 - i : i] << (8 * i);
    return v;
}

static lua_Integer sign_extend(uint64_t v, int n)
{
    if (n < 8 && (v >> (8 * n - 1)) & 1)
        v |= ~(uint64_t)0 << (8 * n);
    return (lua_Integer)v;
}

/* A number's letter: its size, whether float, whether signed; 0 if none. */
static int num_code(int c, int *is_float, int *is_signed)
{
    *is_float = c == 'f' || c == 'd' || c == 'n';
    *is_signed = c == 'c' || c == 'h' || c == 'i' || c == 'l';
    switch (c) {
    case 'c': case 'b': return 1;
    case 'h': case 'H': return 2;
    case 'i': case 'I': case 'f': return 4;
    case 'l': case 'L': case 'd': case 'n': return 8;
    default: return 0;
    }
}

/* Encodes the number at arg into n bytes. */
static void encode_num(lua_State *L, int arg, uint8_t *out, int n, int is_float, int big)
{
    if (is_float && n == 4) {
        float f = (float)luaL_checknumber(L, arg);
        uint32_t u;
        memcpy(&u, &f, 4);
        put_uint(out, 4, u, big);
    } else if (is_float) {
        double d = (double)luaL_checknumber(L, arg);
        uint64_t u;
        memcpy(&u, &d, 8);
        put_uint(out, 8, u, big);
    } else {
        put_uint(out, n, (uint64_t)luaL_checkinteger(L, arg), big);
    }
}

static void push_num(lua_State *L, const uint8_t *p, int n, int is_float, int is_signed, int big)
{
    uint64_t u = get_uint(p, n, big);
    if (is_float && n == 4) {
        uint32_t u32 = (uint32_t)u;
        float f;
        memcpy(&f, &u32, 4);
        lua_pushnumber(L, f);
    } else if (is_float) {
        double d;
        memcpy(&d, &u, 8);
        lua_pushnumber(L, d);
    } else {
        lua_pushinteger(L, is_signed ? sign_extend(u, n) : (lua_Integer)u);
    }
}

/* A letter's repeat count after *f (default 1), advancing *f. */
static int repeat(lua_State *L, const char **f)
{
    long n = 0;
    int given = 0;
    while (**f >= '0' && **f <= '9') {
        n = n * 10 + (*(*f)++ - '0');
        luaL_argcheck(L, n <= PACK_REPEAT_MAX, 2, "repeat count too large");
        given = 1;
    }
    return given ? (int)n : 1;
}

/* The next value letter of a format and its count, past endianness letters
 * (which set *big) and separators; 0 at the end. */
static int next_letter(lua_State *L, const char **f, int *big, int *n)
{
    while (**f) {
        int c = *(*f)++;
        *n = repeat(L, f);
        if (c == '<' || c == '>' || c == '=')
            *big = c == '>';
        else if (c != ' ' && c != ',')
            return c;
    }
    return 0;
}

static int bad_code(lua_State *L, int c)
{
    return luaL_argerror(L, 2, lua_pushfstring(L, "bad code '%c'", c));
}

/* buff:pack(format, ...) -> bytes written at the cursor. Letters: A string,
 * f float, d double, n Lua number, c/b int8/uint8, h/H 16, i/I 32, l/L 64
 * bits; < little, > big, = native (little) endian; a count repeats. */
static int l_pack(lua_State *L)
{
    zbuff *z = check(L);
    const char *f = luaL_checkstring(L, 2);
    int arg = 3, big = 0, c, n, is_float, is_signed, size;
    size_t written = 0;
    while (z->used < z->len && (c = next_letter(L, &f, &big, &n)) != 0) {
        size = num_code(c, &is_float, &is_signed);
        if (!size && c != 'A')
            return bad_code(L, c);
        for (; n > 0 && z->used < z->len; n--) {
            if (c == 'A') {
                size_t k;
                const char *s = luaL_checklstring(L, arg++, &k);
                written += put(z, s, k);
            } else {
                uint8_t tmp[8];
                encode_num(L, arg++, tmp, size, is_float, big);
                written += put(z, tmp, (size_t)size);
            }
        }
    }
    lua_pushinteger(L, (lua_Integer)written);
    return 1;
}

/* buff:unpack(format) -> bytes consumed, values...; reading stops at the
 * first value that is not all there. "An" reads one n-byte string. */
static int l_unpack(lua_State *L)
{
    zbuff *z = check(L);
    const char *f = luaL_checkstring(L, 2);
    const uint8_t *s = at(z, z->used);
    size_t len = z->len - z->used, i = 0;
    int nvals = 0, big = 0, c, n, is_float, is_signed, size;
    lua_pushnil(L);   /* the count's place */
    while ((c = next_letter(L, &f, &big, &n)) != 0) {
        luaL_checkstack(L, 2, "too many results to unpack");
        if (c == 'A') {
            if ((size_t)n > len - i)
                break;
            lua_pushlstring(L, (const char *)s + i, (size_t)n);
            i += (size_t)n;
            nvals++;
            continue;
        }
        size = num_code(c, &is_float, &is_signed);
        if (!size)
            return bad_code(L, c);
        for (; n > 0; n--) {
            if ((size_t)size > len - i)
                goto done;
            luaL_checkstack(L, 2, "too many results to unpack");
            push_num(L, s + i, size, is_float, is_signed, big);
            i += (size_t)size;
            nvals++;
        }
    }
done:
    z->used += i;
    lua_pushinteger(L, (lua_Integer)i);
    lua_replace(L, -nvals - 2);
    return nvals + 1;
}

/* readI8 ... readF64 / writeI8 ... writeF64: the upvalue is the pack letter. */
static int l_readnum(lua_State *L)
{
    zbuff *z = check(L);
    int c = (int)lua_tointeger(L, lua_upvalueindex(1)), is_float, is_signed;
    int size = num_code(c, &is_float, &is_signed);
    if ((size_t)size > z->len - z->used)
        return 0;
    push_num(L, z->addr + z->used, size, is_float, is_signed, 0);
    z->used += (size_t)size;
    return 1;
}

static int l_writenum(lua_State *L)
{
    zbuff *z = check(L);
    int c = (int)lua_tointeger(L, lua_upvalueindex(1)), is_float, is_signed;
    int size = num_code(c, &is_float, &is_signed);
    uint8_t tmp[8];
    encode_num(L, 2, tmp, size, is_float, 0);
    if ((size_t)size > z->len - z->used) {
        lua_pushinteger(L, 0);
        return 1;
    }
    put(z, tmp, (size_t)size);
    lua_pushinteger(L, size);
    return 1;
}

/* buff:query([offset[, length[, isbigend[, issigned[, isfloat]]]]]): bytes of
 * the written part (offset < 0 counts from the cursor; nil when empty); with
 * isbigend given and 1, 2, 4 or 8 bytes, the number they hold. */
static int l_query(lua_State *L)
{
    zbuff *z = check(L);
    lua_Integer o = from_used(z, luaL_optinteger(L, 2, 0));
    lua_Integer l = luaL_optinteger(L, 3, (lua_Integer)z->used);
    size_t off, n;
    if (o < 0 || l <= 0) {
        lua_pushnil(L);
        return 1;
    }
    off = (lua_Unsigned)o < z->used ? (size_t)o : z->used;
    n = (lua_Unsigned)l < z->used - off ? (size_t)l : z->used - off;
    if (n == 0) {
        lua_pushnil(L);
        return 1;
    }
    if (lua_isboolean(L, 4) && (n == 1 || n == 2 || n == 4 || n == 8)) {
        int is_float = lua_toboolean(L, 6) && n >= 4;
        push_num(L, z->addr + off, (int)n, is_float, lua_toboolean(L, 5), lua_toboolean(L, 4));
        return 1;
    }
    push_range(L, z, off, n);
    return 1;
}

/* buff[i] / buff:get(i) (0-based) reads a byte, nil outside; other keys are
 * methods. */
static int l_get(lua_State *L)
{
    zbuff *z = check(L);
    lua_Integer i = luaL_checkinteger(L, 2);
    if (i < 0 || (lua_Unsigned)i >= z->len)
        return 0;
    lua_pushinteger(L, z->addr[i]);
    return 1;
}

static int l_index(lua_State *L)
{
    check(L);
    if (lua_type(L, 2) == LUA_TNUMBER)
        return l_get(L);
    lua_getmetatable(L, 1);
    lua_getfield(L, -1, "methods");
    lua_pushvalue(L, 2);
    lua_rawget(L, -2);
    return 1;
}

static int l_newindex(lua_State *L)
{
    zbuff *z = check(L);
    lua_Integer i = luaL_checkinteger(L, 2);
    luaL_argcheck(L, i >= 0 && (lua_Unsigned)i < z->len, 2, "index out of range");
    z->addr[i] = (uint8_t)(luaL_checkinteger(L, 3) & 0xff);
    return 0;
}

int luaopen_fota_zbuff(lua_State *L)
{
    static const luaL_Reg methods[] = {
        { "write", l_write }, { "read", l_read }, { "toStr", l_tostr }, { "query", l_query },
        { "seek", l_seek }, { "used", l_used }, { "len", l_len }, { "del", l_del },
        { "clear", l_clear }, { "set", l_set }, { "get", l_get }, { "resize", l_resize },
        { "reSize", l_resize }, { "free", l_free }, { "copy", l_copy }, { "isEqual", l_isequal },
        { "pack", l_pack }, { "unpack", l_unpack }, { "toBase64", l_tobase64 }, { NULL, NULL }
    };
    /* readXX/writeXX and the pack letter each one means */
    static const struct { const char *name; char code; } nums[] = {
        { "I8", 'c' }, { "U8", 'b' }, { "I16", 'h' }, { "U16", 'H' }, { "I32", 'i' },
        { "U32", 'I' }, { "I64", 'l' }, { "U64", 'L' }, { "F32", 'f' }, { "F64", 'd' },
    };
    if (luaL_newmetatable(L, LFOTA_ZBUFF)) {
        luaL_newlib(L, methods);
        for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
            lua_pushfstring(L, "read%s", nums[i].name);
            lua_pushinteger(L, nums[i].code);
            lua_pushcclosure(L, l_readnum, 1);
            lua_rawset(L, -3);
            lua_pushfstring(L, "write%s", nums[i].name);
            lua_pushinteger(L, nums[i].code);
            lua_pushcclosure(L, l_writenum, 1);
            lua_rawset(L, -3);
        }
        lua_setfield(L, -2, "methods");
        lua_pushcfunction(L, l_index);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, l_newindex);
        lua_setfield(L, -2, "__newindex");
        lua_pushcfunction(L, l_len);
        lua_setfield(L, -2, "__len");
        lua_pushcfunction(L, l_free);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);
    lua_createtable(L, 0, 4);
    lua_pushcfunction(L, l_create);
    lua_setfield(L, -2, "create");
    lua_pushinteger(L, 0);
    lua_setfield(L, -2, "SEEK_SET");
    lua_pushinteger(L, 1);
    lua_setfield(L, -2, "SEEK_CUR");
    lua_pushinteger(L, 2);
    lua_setfield(L, -2, "SEEK_END");
    return 1;
}
