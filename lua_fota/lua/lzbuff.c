/* require "fota.zbuff": the part of LuatOS's zbuff that FOTA scripts use
 * (a fixed-size byte buffer with a cursor: what UART/MQTT code fills and
 * passes to fota.run). The simulator installs it as the global zbuff. */
#include "lua/lzbuff.h"

#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#define ZBUFF_MAX (16u * 1024u * 1024u)

typedef struct {
    uint8_t *addr;
    size_t len;    /* capacity */
    size_t used;   /* the cursor: bytes written so far */
} zbuff;

static zbuff *check(lua_State *L)
{
    return (zbuff *)luaL_checkudata(L, 1, LFOTA_ZBUFF);
}

int lfota_zbuff_bytes(lua_State *L, int idx, const uint8_t **p, size_t *used, size_t *cap)
{
    zbuff *z = (zbuff *)luaL_testudata(L, idx, LFOTA_ZBUFF);
    if (!z)
        return 0;
    *p = z->addr;
    *used = z->used;
    *cap = z->len;
    return 1;
}

/* zbuff.create(len[, fill byte | initial string]) */
static int l_create(lua_State *L)
{
    lua_Integer len = luaL_checkinteger(L, 1);
    zbuff *z;
    luaL_argcheck(L, len >= 1 && (lua_Unsigned)len <= ZBUFF_MAX, 1, "length out of range (1..16 MiB)");
    z = (zbuff *)lua_newuserdata(L, sizeof *z);
    z->addr = NULL;
    z->len = (size_t)len;
    z->used = 0;
    luaL_setmetatable(L, LFOTA_ZBUFF);
    z->addr = calloc(1, z->len);
    if (!z->addr)
        return luaL_error(L, "out of memory");
    if (lua_type(L, 2) == LUA_TNUMBER) {
        memset(z->addr, (int)(luaL_checkinteger(L, 2) & 0xff), z->len);
    } else if (lua_type(L, 2) == LUA_TSTRING) {
        size_t n;
        const char *s = lua_tolstring(L, 2, &n);
        memcpy(z->addr, s, n < z->len ? n : z->len);
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
        size_t room = z->len - z->used, k;
        if (lua_type(L, i) == LUA_TSTRING) {
            const char *s = lua_tolstring(L, i, &k);
            if (k > room)
                k = room;
            memcpy(z->addr + z->used, s, k);
        } else {
            lua_Integer b = luaL_checkinteger(L, i);
            k = room ? 1 : 0;
            if (k)
                z->addr[z->used] = (uint8_t)(b & 0xff);
        }
        z->used += k;
        total += k;
    }
    lua_pushinteger(L, (lua_Integer)total);
    return 1;
}

/* buff:read(n) -> up to n bytes from the cursor, which advances. */
static int l_read(lua_State *L)
{
    zbuff *z = check(L);
    lua_Integer want = luaL_checkinteger(L, 2);
    size_t k = z->len - z->used;
    luaL_argcheck(L, want >= 0, 2, "negative length");
    if ((lua_Unsigned)want < k)
        k = (size_t)want;
    lua_pushlstring(L, (const char *)z->addr + z->used, k);
    z->used += k;
    return 1;
}

/* Clamps [offset, offset + length) into the buffer. */
static void range(lua_State *L, const zbuff *z, int i, size_t *off, size_t *n)
{
    lua_Integer o = luaL_optinteger(L, i, 0);
    lua_Integer l = luaL_optinteger(L, i + 1, (lua_Integer)z->len);
    luaL_argcheck(L, o >= 0 && (lua_Unsigned)o <= z->len, i, "offset out of range");
    luaL_argcheck(L, l >= 0, i + 1, "negative length");
    *off = (size_t)o;
    *n = (lua_Unsigned)l < z->len - *off ? (size_t)l : z->len - *off;
}

/* buff:toStr([offset[, length]]) and buff:query(...): bytes, cursor unmoved. */
static int l_tostr(lua_State *L)
{
    zbuff *z = check(L);
    size_t off, n;
    range(L, z, 2, &off, &n);
    lua_pushlstring(L, (const char *)z->addr + off, n);
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
    pos = base + off;
    if (pos < 0)
        pos = 0;
    if ((lua_Unsigned)pos > z->len)
        pos = (lua_Integer)z->len;
    z->used = (size_t)pos;
    lua_pushinteger(L, pos);
    return 1;
}

static int l_used(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)check(L)->used);
    return 1;
}

static int l_len(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)check(L)->len);
    return 1;
}

/* buff:del([offset[, length]]): removes bytes of the written part; the rest
 * moves up and the cursor back. */
static int l_del(lua_State *L)
{
    zbuff *z = check(L);
    size_t off, n;
    range(L, z, 2, &off, &n);
    if (off >= z->used)
        return 0;
    if (n > z->used - off)
        n = z->used - off;
    memmove(z->addr + off, z->addr + off + n, z->used - off - n);
    z->used -= n;
    return 0;
}

/* buff:clear([fill]): every byte set, the cursor back to 0. */
static int l_clear(lua_State *L)
{
    zbuff *z = check(L);
    memset(z->addr, (int)(luaL_optinteger(L, 2, 0) & 0xff), z->len);
    z->used = 0;
    return 0;
}

static int l_resize(lua_State *L)
{
    zbuff *z = check(L);
    lua_Integer len = luaL_checkinteger(L, 2);
    uint8_t *p;
    luaL_argcheck(L, len >= 1 && (lua_Unsigned)len <= ZBUFF_MAX, 2, "length out of range (1..16 MiB)");
    p = realloc(z->addr, (size_t)len);
    if (!p)
        return luaL_error(L, "out of memory");
    if ((size_t)len > z->len)
        memset(p + z->len, 0, (size_t)len - z->len);
    z->addr = p;
    z->len = (size_t)len;
    if (z->used > z->len)
        z->used = z->len;
    return 0;
}

static int l_gc(lua_State *L)
{
    zbuff *z = check(L);
    free(z->addr);
    z->addr = NULL;
    z->len = z->used = 0;
    return 0;
}

/* buff[i] (0-based) reads or writes one byte; other keys are methods. */
static int l_index(lua_State *L)
{
    zbuff *z = check(L);
    if (lua_type(L, 2) == LUA_TNUMBER) {
        lua_Integer i = luaL_checkinteger(L, 2);
        if (i < 0 || (lua_Unsigned)i >= z->len)
            return 0;
        lua_pushinteger(L, z->addr[i]);
        return 1;
    }
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
        { "write", l_write }, { "read", l_read }, { "toStr", l_tostr }, { "query", l_tostr },
        { "seek", l_seek }, { "used", l_used }, { "len", l_len }, { "del", l_del },
        { "clear", l_clear }, { "resize", l_resize }, { NULL, NULL }
    };
    if (luaL_newmetatable(L, LFOTA_ZBUFF)) {
        luaL_newlib(L, methods);
        lua_setfield(L, -2, "methods");
        lua_pushcfunction(L, l_index);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, l_newindex);
        lua_setfield(L, -2, "__newindex");
        lua_pushcfunction(L, l_len);
        lua_setfield(L, -2, "__len");
        lua_pushcfunction(L, l_gc);
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
