/* require "fota": LuatOS's fota API (init/run/isDone/finish/file/wait) on
 * the desktop, plus luat-fota's own primitives. All state lives in one
 * context userdata shared as an upvalue, so each lua_State has its own. */
#include <lua.h>
#include <lauxlib.h>

#include <stdlib.h>
#include <string.h>

#include "core/archive.h"
#include "core/pkg.h"
#include "lua/lfota_ctx.h"
#include "lua/lfota_fresh.h"
#include "lua/lfota_http.h"
#include "lua/lfota_pkg.h"
#include "lua/lfota_slots.h"
#include "lua/lzbuff.h"
#include "core/fota_err.h"
#include "port/port.h"

#define FILE_CHUNK 4096

/* LuatOS turns one underlying result into (ok, isDone): > 0 in progress,
 * 0 done, < 0 error. A message follows on error (ours, not LuatOS's). */
static int push_progress(lua_State *L, long result, int with_cache)
{
    lua_pushboolean(L, result >= 0);
    lua_pushboolean(L, result <= 0);
    if (with_cache) /* writes are synchronous: nothing is ever cached */
        lua_pushinteger(L, result < 0 ? result : 0);
    if (result < 0) {
        lua_pushstring(L, fota_strerror((int)result));
        return with_cache ? 4 : 3;
    }
    return with_cache ? 3 : 2;
}

static int push_status(lua_State *L, int rc)
{
    lua_pushboolean(L, rc == FOTA_OK);
    if (rc == FOTA_OK)
        return 1;
    lua_pushstring(L, fota_strerror(rc));
    return 2;
}

/* fota.init(storage, len, param1): storage nil or a number = the device's
 * staging area (a flash address means nothing on the desktop), a string = a
 * file path; len = the most bytes the package may take. A device never
 * provisioned that finds a usable DEVICE/fota/trusted.pem is provisioned
 * with it here too (trust on first sight), so a key written while the
 * scripts run protects the package they are about to fetch. */
static int l_init(lua_State *L)
{
    lfota_state *c = lfota_ctx(L);
    char buf[FOTA_STAGE_PATH_MAX];
    const char *path;
    lua_Integer cap = luaL_optinteger(L, 2, 0);

    if (lua_type(L, 1) == LUA_TSTRING)
        path = lua_tostring(L, 1);
    else if (lua_isnoneornil(L, 1) || lua_type(L, 1) == LUA_TNUMBER)
        path = lfota_default_stage_path(c, buf, sizeof buf);
    else
        return luaL_argerror(L, 1, "storage must be nil, a number or a path string");
    if (cap < 0 || cap > 0x7fffffff)
        return luaL_argerror(L, 2, "len out of range");
    if (cap == 0)
        cap = FOTA_STAGE_DEFAULT_CAPACITY;
    if (c->stage_owner) {
        lua_pushboolean(L, 0);
        lua_pushstring(L, "a download owns the staging area");
        return 2;
    }
    if (!path)
        return push_status(L, FOTA_ERR_IO);
    /* A record error here is no reason to refuse staging: the commit reads
     * the record again and the next boot retries. */
    (void)lfota_trust_first_key(c);
    c->verdict = 1;
    return push_status(L, fota_stage_init(&c->stage, path, (uint32_t)cap));
}

/* Writes from Lua while a download streams into the same area would
 * interleave two packages. */
static int stage_owned(lua_State *L, lfota_state *c, int nret)
{
    if (!c->stage_owner)
        return 0;
    lua_pushboolean(L, 0);
    lua_pushboolean(L, 1);
    if (nret > 2)
        lua_pushinteger(L, FOTA_ERR_STATE);
    lua_pushstring(L, "a download owns the staging area");
    return nret + 1;
}

static int l_run(lua_State *L)
{
    lfota_state *c = lfota_ctx(L);
    int owned = stage_owned(L, c, 3);
    if (owned)
        return owned;
    const uint8_t *buf;
    size_t len, cap;
    lua_Integer off, n;
    /* A string, or a zbuff's written bytes (the caller clears it, as on
     * LuatOS); offset and length (the 2024 API) pick a part of either. */
    if (lfota_zbuff_bytes(L, 1, &buf, &len, &cap)) {
        if (!lua_isnoneornil(L, 2) || !lua_isnoneornil(L, 3))
            len = cap;
    } else {
        buf = (const uint8_t *)luaL_checklstring(L, 1, &len);
    }
    off = luaL_optinteger(L, 2, 0);
    luaL_argcheck(L, off >= 0 && (lua_Unsigned)off <= len, 2, "offset out of range");
    n = luaL_optinteger(L, 3, (lua_Integer)(len - (size_t)off));
    luaL_argcheck(L, n >= 0 && (lua_Unsigned)n <= len - (size_t)off, 3, "length out of range");
    return push_progress(L, fota_stage_write(&c->stage, buf + off, (size_t)n), 1);
}

/* A complete package is checked once (signature, hashes, base,
 * anti-rollback) and, when it checks out, made ready: as on a module, it is
 * applied at the next boot whether or not the script calls
 * fota.finish(true) (finish(false) still discards it). Returns 0, or
 * the refusal (FOTA_PKG_E_*, *refused set), or an error of making it
 * ready. The Lua stack is reused. */
static int check_complete(lua_State *L, lfota_state *c, int *refused)
{
    if (c->verdict == 1) {
        fota_pkg_info info;
        const char *path;
        lua_settop(L, 0);
        lua_newtable(L);
        lua_pushstring(L, fota_stage_path(&c->stage));
        lua_setfield(L, 1, "path");
        c->verdict = lfota_verify(L, &info, &path);
    }
    *refused = c->verdict != 0;
    if (c->verdict == 0 && !c->stage_owner)
        return fota_stage_finish(&c->stage, 1);
    return c->verdict;
}

static int l_file(lua_State *L)
{
    lfota_state *c = lfota_ctx(L);
    const char *path = luaL_checkstring(L, 1);
    fota_port_file *f;
    uint8_t *buf;
    uint64_t off = 0;
    long result = 1;
    int rc, owned = stage_owned(L, c, 3);

    if (owned)
        return owned;
    rc = fota_port_open(&f, path, FOTA_PORT_READ);
    if (rc != FOTA_OK) {
        /* As on LuatOS: a missing file is (false, false, 0). */
        lua_pushboolean(L, 0);
        lua_pushboolean(L, 0);
        lua_pushinteger(L, 0);
        lua_pushfstring(L, "%s: %s", path, fota_strerror(rc));
        return 4;
    }
    buf = malloc(FILE_CHUNK);
    if (!buf) {
        fota_port_close(f);
        return luaL_error(L, "out of memory");
    }
    for (;;) {
        size_t got;
        if ((rc = fota_port_pread(f, off, buf, FILE_CHUNK, &got)) != FOTA_OK) {
            result = rc;
            break;
        }
        if (got == 0)
            break;
        off += got;
        result = fota_stage_write(&c->stage, buf, got);
        if (result < 0)
            break;
    }
    free(buf);
    fota_port_close(f);
    /* LuatOS's fota.file ends the package itself: checked and made ready */
    if (result == 0) {
        int refused, verdict = check_complete(L, c, &refused);
        if (refused) {
            lua_pushboolean(L, 0);
            lua_pushboolean(L, 1);
            lua_pushinteger(L, 0);
            lua_pushfstring(L, "package refused: %s", fota_pkg_errname(verdict));
            return 4;
        }
        result = verdict;
    }
    return push_progress(L, result, 1);
}

/* As on a module, "done" means the complete package also checked out. */
static int l_isDone(lua_State *L)
{
    lfota_state *c = lfota_ctx(L);
    long done = fota_stage_done(&c->stage);
    int refused = 0, verdict = done == 0 ? check_complete(L, c, &refused) : 0;
    if (!refused)
        return push_progress(L, done != 0 ? done : verdict, 0);
    lua_pushboolean(L, 0);
    lua_pushboolean(L, 1);
    lua_pushfstring(L, "package refused: %s", fota_pkg_errname(verdict));
    return 3;
}

static int l_finish(lua_State *L)
{
    lfota_state *c = lfota_ctx(L);
    int ok = lua_toboolean(L, 1);
    if (c->stage_owner)
        return push_status(L, FOTA_ERR_STATE);
    if (!ok)
        c->verdict = 1;
    return push_status(L, fota_stage_finish(&c->stage, ok));
}

/* The desktop's storage is ready at once. */
static int l_wait(lua_State *L)
{
    lua_pushboolean(L, 1);
    return 1;
}

/* fota.device([dir [, {script_area = bytes}]]) -> dir: the simulated
 * device's directory, where the default staging area lives, and its script
 * area (what the files of a script package may add up to; default
 * FOTA_PKG_DEFAULT_SCRIPT_AREA, an Air780E's), for every verification. */
static int l_device(lua_State *L)
{
    lfota_state *c = lfota_ctx(L);
    if (lua_istable(L, 2)) {
        lua_Integer area;
        lua_getfield(L, 2, "script_area");
        area = luaL_optinteger(L, -1, 0);
        if (area < 0 || area > FOTA_ARC_MAX_SIZE)
            return luaL_error(L, "bad option 'script_area' (0..%d bytes expected)", (int)FOTA_ARC_MAX_SIZE);
        c->script_area = (uint32_t)area;
        lua_pop(L, 1);
    } else if (!lua_isnoneornil(L, 2)) {
        return luaL_argerror(L, 2, "table expected");
    }
    if (!lua_isnoneornil(L, 1)) {
        size_t n;
        const char *dir = luaL_checklstring(L, 1, &n);
        if (n == 0 || n >= sizeof c->device)
            return luaL_argerror(L, 1, "device directory path empty or too long");
        memcpy(c->device, dir, n + 1);
    }
    lua_pushstring(L, c->device);
    return 1;
}

static const luaL_Reg fota_funcs[] = {
    { "init", l_init },
    { "run", l_run },
    { "file", l_file },
    { "isDone", l_isDone },
    { "finish", l_finish },
    { "wait", l_wait },
    { "device", l_device },
    { NULL, NULL }
};

int luaopen_fota(lua_State *L)
{
    const luaL_Reg *regs[] = { fota_funcs, lfota_http_funcs, lfota_pkg_funcs, lfota_slots_funcs,
                               lfota_fresh_funcs };

    luaL_newlibtable(L, fota_funcs);
    lfota_ctx_new(L);
    /* [lib, ctx] -> [ctx, lib]; every function gets ctx as its upvalue */
    lua_insert(L, -2);
    for (size_t i = 0; i < sizeof regs / sizeof regs[0]; i++) {
        lua_pushvalue(L, -2);
        luaL_setfuncs(L, regs[i], 1);
    }
    lua_remove(L, -2);
    lfota_http_register(L);
    return 1;
}
