#include "lbind.h"

#include "lua/lzbuff.h"

int lfota_open_class(lua_State *L, const char *tname, const luaL_Reg *methods, const luaL_Reg *funcs)
{
    if (luaL_newmetatable(L, tname)) {
        luaL_setfuncs(L, methods, 0);
        lua_pushvalue(L, -1);
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);
    lua_newtable(L);
    luaL_setfuncs(L, funcs, 0);
    return 1;
}

const char *lfota_bytes_from(lua_State *L, int idx, int from_arg, size_t *len)
{
    const uint8_t *zp;
    size_t n, cap;
    const char *s;
    if (lfota_zbuff_bytes(L, idx, &zp, &n, &cap))
        s = (const char *)zp;
    else
        s = luaL_checklstring(L, idx, &n);
    lua_Integer from = luaL_optinteger(L, from_arg, 1);
    luaL_argcheck(L, from >= 1 && (lua_Unsigned)from <= (lua_Unsigned)n + 1, from_arg, "start out of range");
    *len = n - (size_t)(from - 1);
    return s + from - 1;
}
