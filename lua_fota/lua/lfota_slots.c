/* The device side of an upgrade: commit a verified package into the
 * inactive slots, boot (with automatic rollback), confirm, roll back, state.
 * Also the simulator's factory flash and script (un)packing. */
#include "lua/lfota_slots.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef FOTA_NO_HOST
#include "host/archive_pack.h"   /* fota.pack: host tooling, not in a device build */
#endif
#include "core/archive.h"
#include "core/pkg.h"
#include "core/slots.h"
#include "core/version.h"
#include "lua/lfota_ctx.h"
#include "lua/lfota_fresh.h"
#include "lua/lfota_pkg.h"
#include "core/fota_err.h"
#include "port/port.h"

static const char *const result_names[] = { "none", "updated", "rolled_back" };
static const char *const reason_names[] = { "none", "not_confirmed", "bad_image", "requested" };

static void open_slots(lua_State *L, fota_slots *s)
{
    int rc = fota_slots_init(s, lfota_ctx(L)->device);
    if (rc != FOTA_OK)
        luaL_error(L, "device %s: %s", lfota_ctx(L)->device, fota_strerror(rc));
}

static int push_fail(lua_State *L, int rc)
{
    lua_pushnil(L);
    lua_pushstring(L, fota_pkg_errname(rc));
    lua_pushstring(L, rc <= FOTA_ERR_IO && rc >= FOTA_ERR_POWER ? fota_strerror(rc) : fota_pkg_errname(rc));
    return 3;
}

static void push_image(lua_State *L, const fota_slots *s, const fota_image *img)
{
    char path[FOTA_SLOTS_PATH_MAX + 24];
    lua_createtable(L, 0, 6);
    lua_pushfstring(L, "V%d", (int)img->core_version);
    lua_setfield(L, -2, "core");
    lua_pushstring(L, img->script_version);
    lua_setfield(L, -2, "version");
    lua_pushstring(L, img->core_slot ? "b" : "a");
    lua_setfield(L, -2, "core_slot");
    lua_pushstring(L, img->script_slot ? "b" : "a");
    lua_setfield(L, -2, "script_slot");
    if (fota_slots_path(s, 's', img->script_slot, path, sizeof path) == FOTA_OK) {
        lua_pushstring(L, path);
        lua_setfield(L, -2, "script_path");
    }
}

static void push_record(lua_State *L, const fota_slots *s, const fota_boot_record *rec)
{
    lua_createtable(L, 0, 8);
    push_image(L, s, &rec->active);
    lua_setfield(L, -2, "running");
    push_image(L, s, &rec->prev);
    lua_setfield(L, -2, "previous");
    lua_pushboolean(L, rec->state == FOTA_BOOT_TRYING);
    lua_setfield(L, -2, "trying");
    lua_pushinteger(L, rec->tries_left);
    lua_setfield(L, -2, "tries_left");
    lua_pushstring(L, rec->last_result < 3 ? result_names[rec->last_result] : "unknown");
    lua_setfield(L, -2, "last_result");
    lua_pushstring(L, rec->reason < 4 ? reason_names[rec->reason] : "unknown");
    lua_setfield(L, -2, "rollback_reason");
    lua_pushinteger(L, rec->seq);
    lua_setfield(L, -2, "seq");
    lua_pushboolean(L, rec->key_provisioned);
    lua_setfield(L, -2, "key_provisioned");
}

static lua_Integer opt_tries(lua_State *L)
{
    lua_Integer tries;
    lua_getfield(L, 1, "tries");
    tries = luaL_optinteger(L, -1, FOTA_SLOTS_DEFAULT_TRIES);
    lua_pop(L, 1);
    if (tries < 1 || tries > 100)
        luaL_error(L, "bad option 'tries' (1..100 expected)");
    return tries;
}

/* fota.commit([opts]) -> true | nil, errname, message. opts as fota.verify,
 * plus tries (boots the new pair may take before fota.confirm()). The
 * staged package is dropped on success and when it is refused. */
static int l_commit(lua_State *L)
{
    lfota_state *c = lfota_ctx(L);
    char stage_path[FOTA_STAGE_PATH_MAX];
    fota_pkg_policy pol;
    fota_slots s;
    const char *path;
    lua_Integer tries;
    int rc;

    lfota_opts_table(L);
    if (c->stage_owner)
        return push_fail(L, FOTA_ERR_STATE);
    path = lfota_policy(L, &pol, stage_path, sizeof stage_path);
    tries = opt_tries(L);
    open_slots(L, &s);
    /* The staging area's file handle is not needed any more. */
    fota_stage_free(&c->stage);
    c->verdict = 1;
    rc = fota_slots_commit(&s, path, &pol, (uint8_t)tries);
    if (rc == FOTA_OK || fota_pkg_refused(rc))
        fota_stage_discard(path);
    if (rc != FOTA_OK)
        return rc <= FOTA_PKG_E_BAD_MAGIC ? lfota_push_pkg_error(L, path, rc) : push_fail(L, rc);
    lua_pushboolean(L, 1);
    return 1;
}

int lfota_trust_first_key(lfota_state *c)
{
    uint64_t n;
    char *pem;
    fota_slots s;
    int rc;

    if ((rc = fota_slots_trusted_key_size(c->device, &n)) != FOTA_OK || n == 0)
        return rc;
    /* The file's size, at most 16 KiB, on the heap: off the C stack of a Lua
     * call (no Lua API is called between malloc and free, so nothing leaks). */
    if (n > LFOTA_MAX_PEM - 1)
        n = LFOTA_MAX_PEM - 1;
    if (!(pem = malloc((size_t)n + 1)))
        return FOTA_ERR_NOMEM;
    rc = fota_slots_init(&s, c->device);
    if (rc == FOTA_OK && (rc = fota_slots_trusted_key(c->device, pem, (size_t)n + 1)) == 1)
        rc = fota_slots_provision_found(&s, pem);
    free(pem);
    return rc;
}

/* fota.boot() -> state | nil, "unflashed" | "bricked" | errname
 * Done once per boot by the simulator: counts a trying boot, rolls back an
 * unconfirmed or damaged pair, and first applies a package that was staged
 * (fota.finish(true)) but not committed — after a power cut, or by a
 * LuatOS-style script that staged it and rebooted. Before that, a device
 * never provisioned that finds a usable DEVICE/fota/trusted.pem is
 * provisioned with it (state.provisioned_now); a record error there leaves
 * it for the next boot. */
static int l_boot(lua_State *L)
{
    lfota_state *c = lfota_ctx(L);
    char stage_path[FOTA_STAGE_PATH_MAX];
    fota_boot_record rec;
    fota_slots s;
    int rc, staged = 0, applied = 0, provisioned;

    lua_settop(L, 0);
    lua_newtable(L);
    open_slots(L, &s);
    rc = fota_slots_read(&s, &rec);
    if (rc == FOTA_ERR_NOENT) {
        lua_pushnil(L);
        lua_pushstring(L, "unflashed");
        return 2;
    }
    /* The first boot that finds a usable key file keeps its key for life,
     * before a staged package is looked at. */
    provisioned = lfota_trust_first_key(c);
    if (lfota_default_stage_path(c, stage_path, sizeof stage_path)) {
        fota_pkg_policy pol;
        const char *key;
        /* read here, not raised by lfota_policy: a boot short of memory
         * answers like any other failed boot, the package kept */
        if ((rc = lfota_load_trusted_key(L, c->device, &key)) != FOTA_OK) {
            lua_pushnil(L);
            lua_pushstring(L, fota_strerror(rc));
            return 2;
        }
        if (key) {
            lua_pushstring(L, key);
            lua_setfield(L, 1, "pubkey");
        }
        lfota_policy(L, &pol, stage_path, sizeof stage_path);
        applied = fota_slots_apply_staged(&s, stage_path, &pol);
        staged = applied != FOTA_SLOTS_NOTHING_STAGED;
    }
    rc = fota_slots_boot(&s, &rec);
    if (rc != FOTA_OK) {
        lua_pushnil(L);
        lua_pushstring(L, rc == FOTA_ERR_FORMAT ? "bricked" : fota_strerror(rc));
        return 2;
    }
    push_record(L, &s, &rec);
    if (provisioned == 1) {
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "provisioned_now");
    }
    if (staged) {
        /* "ok" or why the staged package was not applied */
        lua_pushstring(L, applied == FOTA_SLOTS_ALREADY_APPLIED ? "already_applied" : fota_pkg_errname(applied));
        lua_setfield(L, -2, "applied_staged");
    }
    return 1;
}

static int l_state(lua_State *L)
{
    fota_boot_record rec;
    fota_slots s;
    int rc;
    open_slots(L, &s);
    if ((rc = fota_slots_read(&s, &rec)) != FOTA_OK)
        return push_fail(L, rc);
    push_record(L, &s, &rec);
    lfota_push_fresh(L);
    return 1;
}

static int l_confirm(lua_State *L)
{
    fota_slots s;
    int rc;
    open_slots(L, &s);
    if ((rc = fota_slots_confirm(&s)) != FOTA_OK)
        return push_fail(L, rc);
    lua_pushboolean(L, 1);
    return 1;
}

static int l_rollback(lua_State *L)
{
    fota_slots s;
    int rc;
    open_slots(L, &s);
    if ((rc = fota_slots_rollback(&s, FOTA_REASON_REQUESTED)) != FOTA_OK)
        return push_fail(L, rc);
    lua_pushboolean(L, 1);
    return 1;
}

/* fota.flash{core = "V1103", core_image = path, script = archive, version = "1.0.0"}:
 * the factory image of a simulated device. */
static int l_flash(lua_State *L)
{
    const char *core, *image, *script, *version;
    uint32_t core_version = 0;
    fota_slots s;
    int rc;

    luaL_checktype(L, 1, LUA_TTABLE);
    lua_getfield(L, 1, "core");
    lua_getfield(L, 1, "core_image");
    lua_getfield(L, 1, "script");
    lua_getfield(L, 1, "version");
    core = luaL_checkstring(L, -4);
    image = luaL_optstring(L, -3, NULL);
    script = luaL_optstring(L, -2, NULL);
    version = luaL_optstring(L, -1, "");
    if (fota_version_parse_core(core, &core_version) != 0)
        return luaL_error(L, "bad core version %s (like V1103 expected)", core);
    open_slots(L, &s);
    if ((rc = fota_slots_flash(&s, image, core_version, script, version)) != FOTA_OK)
        return push_fail(L, rc);
    lua_pushboolean(L, 1);
    return 1;
}

/* fota.provision_key(pub_pem) -> true | nil, errname, message: from now on
 * this device accepts only packages signed by that key, whatever becomes of
 * DEVICE/fota/trusted.pem (kept in the boot record, once for its life). */
static int l_provision_key(lua_State *L)
{
    const char *pem = luaL_checkstring(L, 1);
    fota_slots s;
    int rc;
    open_slots(L, &s);
    if ((rc = fota_slots_provision_key(&s, pem)) != FOTA_OK) {
        lua_pushnil(L);
        lua_pushstring(L, fota_pkg_errname(rc));
        lua_pushstring(L, rc == FOTA_ERR_STATE ? "another signing key is provisioned"
                          : rc == FOTA_ERR_ARG ? "not an ECDSA P-256 public key"
                          : rc == FOTA_ERR_NOENT ? "device never flashed" : fota_strerror(rc));
        return 3;
    }
    lua_pushboolean(L, 1);
    return 1;
}

#ifndef FOTA_NO_HOST
/* fota.pack(dir_or_file | {{name, path}, ...}, out) -> true | nil, err, why:
 * a script archive of a project directory (dot files skipped) or of files.
 * The archive writer is host code (lua_fota/host): a device build defines
 * FOTA_NO_HOST and has no fota.pack. */
static int l_pack(lua_State *L)
{
    size_t n;
    const char **names, **paths;
    const char *out = luaL_checkstring(L, 2);
    int rc;

    if (lua_type(L, 1) == LUA_TSTRING) {
        char why[FOTA_SLOTS_PATH_MAX + 80];
        if ((rc = fota_arc_pack_path(lua_tostring(L, 1), out, why, sizeof why)) != 0) {
            push_fail(L, rc);
            lua_pushstring(L, why);
            return 4;
        }
        lua_pushboolean(L, 1);
        return 1;
    }
    luaL_checktype(L, 1, LUA_TTABLE);
    n = lua_rawlen(L, 1);
    luaL_argcheck(L, n >= 1 && n <= FOTA_ARC_MAX_ENTRIES, 1, "1..1024 files expected");
    names = lua_newuserdata(L, 2 * n * sizeof *names);
    paths = names + n;
    for (size_t i = 0; i < n; i++) {
        lua_rawgeti(L, 1, (lua_Integer)i + 1);
        luaL_argcheck(L, lua_istable(L, -1), 1, "{name, path} pairs expected");
        lua_rawgeti(L, -1, 1);
        lua_rawgeti(L, -2, 2);
        names[i] = lua_tostring(L, -2);
        paths[i] = lua_tostring(L, -1);
        luaL_argcheck(L, names[i] && paths[i], 1, "{name, path} pairs expected");
        lua_pop(L, 3);   /* the strings stay referenced by the argument table */
    }
    if ((rc = fota_arc_pack(names, paths, n, out)) != 0)
        return push_fail(L, rc);
    lua_pushboolean(L, 1);
    return 1;
}
#endif

/* fota.extract(archive, dir) -> true | nil, err */
static int l_extract(lua_State *L)
{
    int rc = fota_arc_unpack(luaL_checkstring(L, 1), luaL_checkstring(L, 2));
    if (rc != 0)
        return push_fail(L, rc);
    lua_pushboolean(L, 1);
    return 1;
}

const luaL_Reg lfota_slots_funcs[] = {
    { "commit", l_commit },
    { "boot", l_boot },
    { "state", l_state },
    { "confirm", l_confirm },
    { "rollback", l_rollback },
    { "flash", l_flash },
    { "provision_key", l_provision_key },
#ifndef FOTA_NO_HOST
    { "pack", l_pack },
#endif
    { "extract", l_extract },
    { NULL, NULL }
};
