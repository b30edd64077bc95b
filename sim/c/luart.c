/* require "fota.uart": the port layer's pseudo-terminal (port_pty.h) as
 * Lua objects, for sim/luatos/uart.lua (LuatOS's uart API). open() gives
 * a port and the slave path a host tool opens; read/write never block. */
#include <lauxlib.h>
#include <lua.h>

#include "lbind.h"
#include "core/fota_err.h"
#include "port/port_pty.h"

#define LFOTA_PTY "fota.pty"
#define PTY_READ_MAX (64 * 1024)   /* most bytes one read returns */
#define PTY_PATH_MAX 256

typedef struct {
    fota_port_pty *pty;   /* NULL once closed */
} lpty;

static lpty *check_open(lua_State *L)
{
    lpty *p = (lpty *)luaL_checkudata(L, 1, LFOTA_PTY);
    luaL_argcheck(L, p->pty != NULL, 1, "pty closed");
    return p;
}

/* uart.open() -> port, slave path | nil, msg */
static int l_open(lua_State *L)
{
    char path[PTY_PATH_MAX];
    lpty *p = (lpty *)lua_newuserdata(L, sizeof *p);
    int rc;
    p->pty = NULL;
    luaL_setmetatable(L, LFOTA_PTY);
    if ((rc = fota_port_pty_open(&p->pty, path, sizeof path)) != FOTA_OK) {
        lua_pushnil(L);
        lua_pushstring(L, fota_strerror(rc));
        return 2;
    }
    lua_pushstring(L, path);
    return 2;
}

/* port:read([max]) -> the bytes that arrived (maybe ""), at most max | nil, msg */
static int l_read(lua_State *L)
{
    lpty *p = check_open(L);
    lua_Integer max = luaL_optinteger(L, 2, PTY_READ_MAX);
    luaL_Buffer b;
    size_t got = 0;
    char *buf;
    int rc;
    luaL_argcheck(L, max >= 0 && max <= PTY_READ_MAX, 2, "length out of range (0..64 KiB)");
    buf = luaL_buffinitsize(L, &b, (size_t)max);
    if ((rc = fota_port_pty_read(p->pty, buf, (size_t)max, &got)) != FOTA_OK) {
        lua_pushnil(L);
        lua_pushstring(L, fota_strerror(rc));
        return 2;
    }
    luaL_pushresultsize(&b, got);
    return 1;
}

/* port:write(str | zbuff[, from]) -> bytes taken (from: 1-based start in a
 * string, as string.sub) | nil, msg */
static int l_write(lua_State *L)
{
    lpty *p = check_open(L);
    size_t n, put = 0;
    const char *s = lfota_bytes_from(L, 2, 3, &n);
    int rc;
    if ((rc = fota_port_pty_write(p->pty, s, n, &put)) != FOTA_OK) {
        lua_pushnil(L);
        lua_pushstring(L, fota_strerror(rc));
        return 2;
    }
    lua_pushinteger(L, (lua_Integer)put);
    return 1;
}

static int l_close(lua_State *L)
{
    lpty *p = (lpty *)luaL_checkudata(L, 1, LFOTA_PTY);
    fota_port_pty_close(p->pty);
    p->pty = NULL;
    return 0;
}

int luaopen_fota_uart(lua_State *L)
{
    static const luaL_Reg methods[] = {
        { "read", l_read }, { "write", l_write }, { "close", l_close }, { "__gc", l_close }, { NULL, NULL }
    };
    static const luaL_Reg funcs[] = { { "open", l_open }, { NULL, NULL } };
    return lfota_open_class(L, LFOTA_PTY, methods, funcs);
}
