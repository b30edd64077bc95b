/* zbuff: LuatOS's fixed-size byte buffer, and how the binding reads one
 * that is passed to it. On a module zbuff is built into the firmware; on
 * the desktop the simulator's stand-in (sim/c/lzbuff.c, fota.zbuff)
 * implements it. */
#ifndef LFOTA_ZBUFF_H
#define LFOTA_ZBUFF_H

#include <stddef.h>
#include <stdint.h>

#include <lua.h>

#define LFOTA_ZBUFF "zbuff"

/* A zbuff at idx: its memory, written length and capacity (1), or 0 when
 * the value is no zbuff. */
int lfota_zbuff_bytes(lua_State *L, int idx, const uint8_t **p, size_t *used, size_t *cap);

#endif
