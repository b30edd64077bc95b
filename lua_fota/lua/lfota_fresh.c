/* fota.fresh(opts) -> true, time, expires | nil, reason
 * opts: header (the X-Fota-Fresh value), imei and version (as the device
 * sent them: CORE.x.z), code (the platform code heard) or sha256 (hex of the
 * package hash, from fota.verify), now (Unix seconds, the device's clock:
 * os.time()), skew (seconds a statement's time may be ahead, default 300),
 * pubkey (default the device's trusted key, as fota.verify). A fresh
 * statement is recorded in DEVICE/fota/fresh.rec. Reasons: no_key,
 * bad_format, bad_signature, expired, future, io. */
#include "lua/lfota_fresh.h"

#include <stdio.h>
#include <string.h>

#include "core/fresh.h"
#include "core/pkg.h"
#include "lua/lfota_ctx.h"
#include "lua/lfota_pkg.h"
#include "core/fota_err.h"

#define DEFAULT_SKEW 300

static void record_path(lua_State *L, char *buf, size_t len)
{
    snprintf(buf, len, "%s/fota/fresh.rec", lfota_ctx(L)->device);
}

void lfota_push_fresh(lua_State *L)
{
    char path[FOTA_STAGE_PATH_MAX + 16];
    fota_fresh f;
    record_path(L, path, sizeof path);
    if (fota_fresh_load(path, &f) != 0)
        return;
    lua_pushinteger(L, (lua_Integer)f.time);
    lua_setfield(L, -2, "fresh");
}

static const char *field(lua_State *L, const char *key)
{
    const char *s;
    if (lua_getfield(L, 1, key) != LUA_TSTRING)
        luaL_error(L, "bad option '%s' (string expected, got %s)", key, luaL_typename(L, -1));
    s = lua_tostring(L, -1);   /* stays referenced by opts */
    lua_pop(L, 1);
    return s;
}

static int fail(lua_State *L, const char *reason)
{
    lua_pushnil(L);
    lua_pushstring(L, reason);
    return 2;
}

static int l_fresh(lua_State *L)
{
    char stage[FOTA_STAGE_PATH_MAX], answer[80], path[FOTA_STAGE_PATH_MAX + 16];
    fota_pkg_policy pol;
    fota_sig_key k;
    fota_fresh f;
    const char *header, *imei, *version;
    lua_Integer now, skew;
    int rc;

    lfota_opts_table(L);
    /* The key fota.verify would trust, by the same rules. */
    lfota_policy(L, &pol, stage, sizeof stage);
    header = field(L, "header");
    imei = field(L, "imei");
    version = field(L, "version");
    lua_getfield(L, 1, "now");
    now = luaL_checkinteger(L, -1);
    lua_getfield(L, 1, "skew");
    skew = luaL_optinteger(L, -1, DEFAULT_SKEW);
    lua_getfield(L, 1, "code");
    if (!lua_isnil(L, -1))
        snprintf(answer, sizeof answer, "code=%d", (int)luaL_checkinteger(L, -1));
    else
        snprintf(answer, sizeof answer, "sha256=%.64s", field(L, "sha256"));
    lua_pop(L, 3);
    if (skew < 0)
        luaL_error(L, "bad option 'skew' (negative)");
    if (!pol.pubkey_pem)
        return fail(L, "no_key");

    fota_sig_key_init(&k);
    rc = fota_sig_key_load_public(&k, pol.pubkey_pem);
    if (rc == 0)
        rc = fota_fresh_check(&k, header, imei, version, answer, (int64_t)now, (int64_t)skew, &f);
    fota_sig_key_free(&k);
    if (rc == FOTA_ERR_ARG)
        return fail(L, "bad_arg");   /* an unusable key or field */
    if (rc)
        return fail(L, fota_fresh_errname(rc));
    record_path(L, path, sizeof path);
    if (fota_fresh_save(path, &f) != 0)
        return fail(L, "io");
    lua_pushboolean(L, 1);
    lua_pushinteger(L, (lua_Integer)f.time);
    lua_pushinteger(L, (lua_Integer)f.expires);
    return 3;
}

const luaL_Reg lfota_fresh_funcs[] = {
    { "fresh", l_fresh },
    { NULL, NULL }
};
