/* The binding's context: the state of one `require "fota"` (the staging
 * area, who owns it, isDone's verdict, the device directory), a userdata
 * given to every module function as upvalue 1, so each lua_State has its own.
 * The other binding files build on this one; it builds on none of them. */
#ifndef LFOTA_CTX_H
#define LFOTA_CTX_H

#include <lua.h>
#include <lauxlib.h>

#include "core/stage.h"

typedef struct {
    fota_stage stage;
    int stage_owner;   /* 1 while a download owns the staging area */
    int verdict;       /* isDone's check of the complete package: 1 not yet, else 0 or FOTA_PKG_E_* */
    char device[FOTA_STAGE_PATH_MAX - 32]; /* room for "/fota/stage.bin" */
    uint32_t script_area; /* the device's script area in bytes (fota.device); 0 = the core's default */
} lfota_state;

#define LFOTA_CTX "luat_fota.ctx"

/* Pushes a new context (with its metatable) for luaopen_fota. */
lfota_state *lfota_ctx_new(lua_State *L);
/* The context: upvalue 1 of every module function. */
lfota_state *lfota_ctx(lua_State *L);
/* DEVICE/fota/stage.bin, creating DEVICE/fota; NULL when it cannot. */
const char *lfota_default_stage_path(lfota_state *c, char *buf, size_t len);

#endif
