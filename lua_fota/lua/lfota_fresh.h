/* fota.fresh: a server's signed freshness statement (core/fresh.h) checked
 * with the device's trusted key against what the device asked and heard,
 * and the record of the last fresh one that fota.state() reports. */
#ifndef LFOTA_FRESH_H
#define LFOTA_FRESH_H

#include <lua.h>
#include <lauxlib.h>

/* Sets field "fresh" (server time of the last fresh statement, Unix
 * seconds) of the table on top of the stack, when the device has one. */
void lfota_push_fresh(lua_State *L);

extern const luaL_Reg lfota_fresh_funcs[];   /* fresh */

#endif
