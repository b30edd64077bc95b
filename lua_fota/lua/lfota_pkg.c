/* fota.verify(opts): the staged package checked completely — structure,
 * sizes, SHA-256, signature, base core, anti-rollback — before anything may
 * be committed from it. */
#include "lua/lfota_pkg.h"

#include <stdio.h>
#include <string.h>

#include "core/archive.h"
#include "core/bytes.h"
#include "core/files.h"
#include "core/pkg.h"
#include "core/slots.h"
#include "core/version.h"
#include "lua/lfota_ctx.h"
#include "core/fota_err.h"
#include "port/port.h"


static const char *opt_str(lua_State *L, const char *key)
{
    const char *s = NULL;
    if (lua_getfield(L, 1, key) != LUA_TNIL) {
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "bad option '%s' (string expected, got %s)", key, luaL_typename(L, -1));
        s = lua_tostring(L, -1);   /* stays referenced by opts */
    }
    lua_pop(L, 1);
    return s;
}

static void push_hex(lua_State *L, const uint8_t p[32])
{
    char hex[65];
    fota_hex(p, 32, hex);
    lua_pushstring(L, hex);
}

static void push_info(lua_State *L, const fota_pkg_info *in)
{
    lua_createtable(L, 0, 13);
    lua_pushstring(L, in->project);
    lua_setfield(L, -2, "project");
    lua_pushstring(L, in->firmware);
    lua_setfield(L, -2, "firmware");
    lua_pushstring(L, in->bsp);
    lua_setfield(L, -2, "bsp");
    lua_pushinteger(L, in->total_len);
    lua_setfield(L, -2, "size");
    if (in->to_core_version) {
        lua_pushfstring(L, "V%d", (int)in->to_core_version);
        lua_setfield(L, -2, "core");
    }
    if (in->from_core_version) {
        lua_pushfstring(L, "V%d", (int)in->from_core_version);
        lua_setfield(L, -2, "from_core");
    }
    if (in->script_version[0]) {
        lua_pushstring(L, in->script_version);
        lua_setfield(L, -2, "version");
    }
    if (in->release_core_version) {   /* the release it was built as */
        lua_pushfstring(L, "V%d", (int)in->release_core_version);
        lua_setfield(L, -2, "release_core");
        lua_pushstring(L, in->release_script_version);
        lua_setfield(L, -2, "release_version");
        lua_pushboolean(L, in->reinstall);
        lua_setfield(L, -2, "reinstall");
    }
    lua_pushboolean(L, in->signature_verified);
    lua_setfield(L, -2, "signed");
    push_hex(L, in->sha256);
    lua_setfield(L, -2, "sha256");
}

int lfota_load_trusted_key(lua_State *L, const char *device, const char **pem)
{
    uint64_t n;
    char *buf;
    int rc;
    *pem = NULL;
    if ((rc = fota_slots_trusted_key_size(device, &n)) != FOTA_OK || n == 0)
        return rc;
    if (n > LFOTA_MAX_PEM - 1)
        n = LFOTA_MAX_PEM - 1;   /* a key is far smaller; more is not read */
    buf = lua_newuserdata(L, (size_t)n + 1);
    if ((rc = fota_slots_trusted_key(device, buf, (size_t)n + 1)) == 1) {
        *pem = buf;
        return FOTA_OK;
    }
    lua_pop(L, 1);
    return rc;
}

const char *lfota_trusted_key(lua_State *L, const char *device)
{
    const char *pem;
    int rc = lfota_load_trusted_key(L, device, &pem);
    if (rc != FOTA_OK)
        luaL_error(L, "the trusted key cannot be read: %s", fota_strerror(rc));
    return pem;
}

/* Reads the verification options of opts (at index 1, a table) into pol.
 * Strings stay owned by opts; the device's key, when it is used, stays on
 * the Lua stack (lfota_trusted_key). Returns the
 * package path (opts.path or the staging area) or raises. Options: path,
 * pubkey (PEM; default the device's trusted.pem: with a key, an unsigned
 * package is refused), project, bsp, core ("V1103", the running core),
 * core_image (file hashed as the delta base), version (the running script
 * VERSION), allow_rollback, max_size, script_area (bytes the script files may
 * add up to; default the device's, fota.device). */
const char *lfota_policy(lua_State *L, fota_pkg_policy *pol, char *pathbuf, size_t pathlen)
{
    lfota_state *c = lfota_ctx(L);
    const char *path, *core, *image;
    lua_Integer max;

    fota_pkg_policy_init(pol);
    path = opt_str(L, "path");
    if (!path && !(path = lfota_default_stage_path(c, pathbuf, pathlen)))
        luaL_error(L, "no staging area");
    pol->pubkey_pem = opt_str(L, "pubkey");
    if (!pol->pubkey_pem)
        pol->pubkey_pem = lfota_trusted_key(L, c->device);
    pol->project = opt_str(L, "project");
    pol->bsp = opt_str(L, "bsp");
    pol->current_script_version = opt_str(L, "version");
    if ((core = opt_str(L, "core")) && fota_version_parse_core(core, &pol->current_core_version) != 0)
        luaL_error(L, "bad option 'core' (like V1103 expected, got %s)", core);
    if ((image = opt_str(L, "core_image"))) {
        if (fota_sha256_file(image, FOTA_PKG_MAX_IMAGE, pol->current_core_sha256, NULL) != 0)
            luaL_error(L, "cannot hash core image %s", image);
        pol->has_current_core_sha256 = 1;
    }
    lua_getfield(L, 1, "allow_rollback");
    pol->allow_rollback = lua_toboolean(L, -1);
    lua_getfield(L, 1, "max_size");
    max = luaL_optinteger(L, -1, 0);
    if (max < 0 || max > 0x7fffffff)
        luaL_error(L, "bad option 'max_size' (out of range)");
    pol->max_size = (uint32_t)max;
    lua_getfield(L, 1, "script_area");
    max = luaL_optinteger(L, -1, 0);
    if (max < 0 || max > FOTA_ARC_MAX_SIZE)
        luaL_error(L, "bad option 'script_area' (0..%d bytes expected)", (int)FOTA_ARC_MAX_SIZE);
    pol->script_area = max ? (uint32_t)max : c->script_area;   /* 0 either way: the core's default */
    lua_pop(L, 3);
    return path;
}

int lfota_opts_table(lua_State *L)
{
    if (lua_isnoneornil(L, 1)) {
        lua_settop(L, 0);
        lua_newtable(L);
    }
    luaL_checktype(L, 1, LUA_TTABLE);
    return 1;
}

int lfota_push_pkg_error(lua_State *L, const char *path, int rc)
{
    lua_pushnil(L);
    lua_pushstring(L, fota_pkg_errname(rc));
    lua_pushfstring(L, "package %s refused: %s", path, fota_pkg_errname(rc));
    return 3;
}

/* Verifies with the options table at index 1 (see lfota_policy); on a
 * flashed device the running image is the base and the rollback floor. */
int lfota_verify(lua_State *L, fota_pkg_info *info, const char **path_out)
{
    char stage_path[FOTA_STAGE_PATH_MAX];
    fota_pkg_policy pol;
    fota_slots slots;
    fota_boot_record rec;
    fota_port_file *core = NULL;
    const char *path = lfota_policy(L, &pol, stage_path, sizeof stage_path);
    int rc;

    /* stage_path dies with this frame: the caller gets the path as a Lua string. */
    *path_out = lua_pushstring(L, path);
    if (fota_slots_init(&slots, lfota_ctx(L)->device) == FOTA_OK && fota_slots_read(&slots, &rec) == FOTA_OK &&
        (rc = fota_slots_base_policy(&slots, &rec, &pol, &core)) != FOTA_OK)
        return rc <= FOTA_PKG_E_BAD_MAGIC ? rc : FOTA_PKG_E_IO;
    rc = fota_pkg_verify_file(path, &pol, info);
    fota_port_close(core);
    return rc;
}

/* fota.verify([opts]) -> true, info | nil, errname, message */
static int l_verify(lua_State *L)
{
    fota_pkg_info info;
    const char *path;
    int rc;

    lfota_opts_table(L);
    if ((rc = lfota_verify(L, &info, &path)) != 0)
        return lfota_push_pkg_error(L, path, rc);
    lua_pushboolean(L, 1);
    push_info(L, &info);
    return 2;
}

const luaL_Reg lfota_pkg_funcs[] = {
    { "verify", l_verify },
    { NULL, NULL }
};
