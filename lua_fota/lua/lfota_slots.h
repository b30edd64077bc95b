/* fota.commit/state/confirm/rollback/boot/flash/pack/extract: the A/B slots
 * and boot record (core/slots.h) seen from Lua. */
#ifndef LFOTA_SLOTS_H
#define LFOTA_SLOTS_H

#include <lua.h>
#include <lauxlib.h>

#include "lua/lfota_ctx.h"

extern const luaL_Reg lfota_slots_funcs[];

/* Trust on first sight (fota_slots_provision_found) with the device's
 * DEVICE/fota/trusted.pem: 1 when it provisioned the device now, 0 when
 * not, else a record error. Done by fota.boot and fota.init. */
int lfota_trust_first_key(lfota_state *c);

#endif
