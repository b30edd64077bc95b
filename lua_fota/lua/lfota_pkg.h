/* fota.verify and what fota.commit shares with it: a verification policy
 * built from an options table and the device (trusted key, running image),
 * and package verdicts pushed as `nil, reason, msg`. */
#ifndef LFOTA_PKG_H
#define LFOTA_PKG_H

#include <lua.h>
#include <lauxlib.h>

#include "core/pkg.h"

#define LFOTA_MAX_PEM (16 * 1024)

/* The device's trusted key (DEVICE/fota/trusted.pem, at most
 * LFOTA_MAX_PEM - 1 bytes, NUL-terminated) in a userdata of its size pushed
 * on the Lua stack, which keeps it until the C function returns: on the
 * heap, where no Lua error can leak it, and not on the C stack, where a
 * largest-key buffer was the deepest frame of a module's boot. *pem NULL,
 * and nothing pushed, when there is none. FOTA_OK, or why the file could
 * not be read (nothing pushed). */
int lfota_load_trusted_key(lua_State *L, const char *device, const char **pem);
/* The same, raising a Lua error when the file cannot be read: unreadable
 * is not "no key", with which an unsigned package would pass. */
const char *lfota_trusted_key(lua_State *L, const char *device);
/* The policy for the options table at index 1 (strings stay owned by it;
 * the device's key may be pushed, lfota_trusted_key); returns the package
 * path (opts.path or the staged one), or raises a Lua error. */
const char *lfota_policy(lua_State *L, fota_pkg_policy *pol, char *pathbuf, size_t pathlen);
int lfota_opts_table(lua_State *L);     /* opts at 1: nil -> {} ; else a table */
int lfota_push_pkg_error(lua_State *L, const char *path, int rc);
/* Verifies the package the options at index 1 name (default: the staged
 * one); 0 or a FOTA_PKG_E_* code. Pushes the package path (*path_out). */
int lfota_verify(lua_State *L, fota_pkg_info *info, const char **path_out);

extern const luaL_Reg lfota_pkg_funcs[];   /* verify */

#endif
