/* fota.request / fota.download: HTTP(S) transfers (core/http.h) as
 * userdata that scripts poll within a time budget. */
#ifndef LFOTA_HTTP_H
#define LFOTA_HTTP_H

#include <lua.h>
#include <lauxlib.h>

extern const luaL_Reg lfota_http_funcs[];
/* The transfer metatable, once per lua_State. */
void lfota_http_register(lua_State *L);

#endif
