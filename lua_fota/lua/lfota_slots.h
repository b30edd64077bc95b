/* fota.commit/state/confirm/rollback/boot/flash/pack/extract: the A/B slots
 * and boot record (core/slots.h) seen from Lua. */
#ifndef LFOTA_SLOTS_H
#define LFOTA_SLOTS_H

#include <lua.h>
#include <lauxlib.h>

extern const luaL_Reg lfota_slots_funcs[];

#endif
