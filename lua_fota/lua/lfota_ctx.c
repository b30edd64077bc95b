#include "lua/lfota_ctx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fota_err.h"
#include "port/port.h"

lfota_state *lfota_ctx(lua_State *L)
{
    return (lfota_state *)lua_touserdata(L, lua_upvalueindex(1));
}

const char *lfota_default_stage_path(lfota_state *c, char *buf, size_t len)
{
    char dir[FOTA_STAGE_PATH_MAX];
    snprintf(dir, sizeof dir, "%s/fota", c->device);
    if (fota_port_mkdirs(dir) != FOTA_OK)
        return NULL;
    snprintf(buf, len, "%s/stage.bin", dir);
    return buf;
}

static int ctx_gc(lua_State *L)
{
    lfota_state *c = (lfota_state *)luaL_checkudata(L, 1, LFOTA_CTX);
    fota_stage_free(&c->stage);
    return 0;
}

lfota_state *lfota_ctx_new(lua_State *L)
{
    const char *env = getenv("LUATOS_SIM_DEVICE");
    lfota_state *c = (lfota_state *)lua_newuserdata(L, sizeof *c);
    memset(c, 0, sizeof *c);
    fota_stage_setup(&c->stage);
    c->verdict = 1;
    snprintf(c->device, sizeof c->device, "%s", env && *env ? env : ".luatos-device");
    if (luaL_newmetatable(L, LFOTA_CTX)) {
        lua_pushcfunction(L, ctx_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    return c;
}
