/* require "fota.host": the clock the desktop runtime (lib/sys.lua) needs,
 * taken from the port layer so the runtime touches no clock itself. */
#include <lua.h>
#include <lauxlib.h>

#include "port/port.h"

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

static const luaL_Reg host_funcs[] = {
    { "ms", l_ms },
    { "sleep", l_sleep },
    { NULL, NULL }
};

int luaopen_fota_host(lua_State *L)
{
    luaL_newlib(L, host_funcs);
    return 1;
}
