/* Small pieces the binding's handle modules (fota.uart, fota.net) share. */
#ifndef LFOTA_BIND_H
#define LFOTA_BIND_H

#include <stddef.h>

#include <lua.h>
#include <lauxlib.h>

/* Registers metatable tname as its own __index with methods, then pushes a
 * library table of funcs: what a handle module's luaopen returns (1). */
int lfota_open_class(lua_State *L, const char *tname, const luaL_Reg *methods, const luaL_Reg *funcs);

/* The bytes of a string, or of a zbuff's written part, at idx, from the
 * 1-based start given at argument from_arg (optional, default 1; checked):
 * where they start, and in *len how many are left. */
const char *lfota_bytes_from(lua_State *L, int idx, int from_arg, size_t *len);

#endif
