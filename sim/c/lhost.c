/* require "fota.host": what the desktop runtime needs from the port layer,
 * so its Lua touches no clock and no file itself: the clock
 * (sim/luatos/sys.lua) and the file helpers fskv and the io extensions are
 * built on. Paths are host paths (the caller maps module paths); failures
 * return nil, message. */
#include <stdlib.h>
#include <string.h>

#include <lua.h>
#include <lauxlib.h>

#include "core/files.h"
#include "core/fota_err.h"
#include "port/port.h"

#define HOST_PATH_MAX 1023u
#define HOST_FILE_MAX (64u * 1024u * 1024u)   /* most bytes one read returns */
#define HOST_DIR_MAX 65536                    /* most entries one listing returns */

static int l_ms(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)fota_port_now_ms());
    return 1;
}

static int l_sleep(lua_State *L)
{
    lua_Integer ms = luaL_checkinteger(L, 1);
    luaL_argcheck(L, ms >= 0 && ms <= 86400000, 1, "ms out of range");
    fota_port_sleep_ms((uint32_t)ms);
    return 0;
}

/* A path argument: a string without NUL, shorter than the port's buffers. */
static const char *check_path(lua_State *L, int arg)
{
    size_t n;
    const char *p = luaL_checklstring(L, arg, &n);
    luaL_argcheck(L, n > 0 && n <= HOST_PATH_MAX && strlen(p) == n, arg, "path empty, too long or with NUL");
    return p;
}

static int result(lua_State *L, int rc)
{
    if (rc == FOTA_OK) {
        lua_pushboolean(L, 1);
        return 1;
    }
    lua_pushnil(L);
    lua_pushstring(L, fota_strerror(rc));
    return 2;
}

/* host.kind(path) -> "file" | "dir" | "other" | nil */
static int l_kind(lua_State *L)
{
    static const char *const names[] = { NULL, "file", "dir", "other" };
    int k = fota_port_kind(check_path(L, 1));
    if (k <= FOTA_PORT_MISSING || k > FOTA_PORT_OTHER)
        return 0;
    lua_pushstring(L, names[k]);
    return 1;
}

/* host.size(path) -> bytes | nil, msg */
static int l_size(lua_State *L)
{
    uint64_t size = 0;
    int rc = fota_file_size(check_path(L, 1), &size);
    if (rc != FOTA_OK)
        return result(L, rc);
    lua_pushinteger(L, (lua_Integer)size);
    return 1;
}

/* host.read(path[, offset[, len]]) -> bytes from offset (at most len, at
 * most 64 MiB) | nil, msg */
static int l_read(lua_State *L)
{
    const char *path = check_path(L, 1);
    lua_Integer off = luaL_optinteger(L, 2, 0);
    lua_Integer want = luaL_optinteger(L, 3, HOST_FILE_MAX);
    fota_port_file *f = NULL;
    uint64_t size = 0;
    size_t n, got = 0;
    char *buf;
    luaL_Buffer b;
    int rc;
    luaL_argcheck(L, off >= 0, 2, "negative offset");
    luaL_argcheck(L, want >= 0, 3, "negative length");
    if ((rc = fota_file_size(path, &size)) != FOTA_OK)
        return result(L, rc);
    n = (uint64_t)off >= size ? 0 : size - (uint64_t)off < HOST_FILE_MAX ? (size_t)(size - (uint64_t)off) : HOST_FILE_MAX;
    if ((lua_Unsigned)want < n)
        n = (size_t)want;
    buf = luaL_buffinitsize(L, &b, n);   /* may raise: before the file is open */
    if ((rc = fota_port_open(&f, path, FOTA_PORT_READ)) != FOTA_OK)
        return result(L, rc);
    rc = fota_port_pread(f, (uint64_t)off, buf, n, &got);
    fota_port_close(f);
    if (rc != FOTA_OK)
        return result(L, rc);
    luaL_pushresultsize(&b, got);
    return 1;
}

/* host.write(path, data[, append]) -> true | nil, msg. Without append the
 * file is replaced crash-safe (temp file, sync, rename); with it the data
 * go to its end and are synced. */
static int l_write(lua_State *L)
{
    const char *path = check_path(L, 1);
    size_t n;
    const char *data = luaL_checklstring(L, 2, &n);
    fota_port_file *f = NULL;
    uint64_t size = 0;
    int rc;
    if (!lua_toboolean(L, 3))
        return result(L, fota_file_write_atomic(path, data, n));
    if ((rc = fota_port_open(&f, path, FOTA_PORT_WRITE)) != FOTA_OK)
        return result(L, rc);
    rc = fota_port_size(f, &size);
    if (rc == FOTA_OK && n)
        rc = fota_port_pwrite(f, size, data, n);
    if (rc == FOTA_OK)
        rc = fota_port_sync(f);
    fota_port_close(f);
    return result(L, rc);
}

static int l_remove(lua_State *L) { return result(L, fota_port_remove(check_path(L, 1))); }
static int l_mkdirs(lua_State *L) { return result(L, fota_port_mkdirs(check_path(L, 1))); }
static int l_rmdir(lua_State *L) { return result(L, fota_port_rmdir(check_path(L, 1))); }

struct listing {
    lua_State *L;
    int n;
};

static int add_name(void *ud, const char *name)
{
    struct listing *l = ud;
    if (l->n >= HOST_DIR_MAX)
        return FOTA_ERR_RANGE;
    lua_pushstring(l->L, name);
    lua_rawseti(l->L, -2, ++l->n);
    return FOTA_OK;
}

/* host.listdir(path) -> { name, ... } sorted by the caller | nil, msg */
static int l_listdir(lua_State *L)
{
    const char *path = check_path(L, 1);
    struct listing l = { L, 0 };
    int rc;
    lua_newtable(L);
    rc = fota_port_listdir(path, add_name, &l);
    if (rc != FOTA_OK)
        return result(L, rc);
    return 1;
}

static const luaL_Reg host_funcs[] = {
    { "ms", l_ms },
    { "sleep", l_sleep },
    { "kind", l_kind },
    { "size", l_size },
    { "read", l_read },
    { "write", l_write },
    { "remove", l_remove },
    { "mkdirs", l_mkdirs },
    { "rmdir", l_rmdir },
    { "listdir", l_listdir },
    { NULL, NULL }
};

int luaopen_fota_host(lua_State *L)
{
    luaL_newlib(L, host_funcs);
    return 1;
}
