/* Shared by the files of the Lua binding: the module's context. */
#ifndef LFOTA_H
#define LFOTA_H

#include <lua.h>
#include <lauxlib.h>
#include "core/stage.h"

typedef struct {
    fota_stage stage;
    int stage_owner;   /* 1 while a download owns the staging area */
    int verdict;       /* isDone's check of the complete package: 1 not yet, else 0 or FOTA_PKG_E_* */
    char device[FOTA_STAGE_PATH_MAX - 32]; /* room for "/fota/stage.bin" */
} fota_ctx;

#define LFOTA_CTX "luat_fota.ctx"
#define LFOTA_ZBUFF "zbuff"

/* A zbuff at idx: its memory, written length and capacity (1), or 0 when
 * the value is no zbuff. */
int lfota_zbuff_bytes(lua_State *L, int idx, const uint8_t **p, size_t *used, size_t *cap);

/* The context: upvalue 1 of every module function. */
fota_ctx *lfota_ctx(lua_State *L);
const char *lfota_default_stage_path(fota_ctx *c, char *buf, size_t len);

/* Verification options shared by fota.verify and fota.commit (lfota_pkg.c). */
#include "core/pkg.h"
#define LFOTA_MAX_PEM (16 * 1024)
const char *lfota_policy(lua_State *L, fota_pkg_policy *pol, char *keybuf, size_t keylen,
                         char *pathbuf, size_t pathlen);
int lfota_opts_table(lua_State *L);     /* opts at 1: nil -> {} ; else a table */
int lfota_push_pkg_error(lua_State *L, const char *path, int rc);
/* Verifies the package the options at index 1 name (default: the staged
 * one); 0 or a FOTA_PKG_E_* code. Pushes the package path (*path_out). */
int lfota_verify(lua_State *L, fota_pkg_info *info, const char **path_out);

/* Functions registered with the context as their upvalue. */
extern const luaL_Reg lfota_http_funcs[];
extern const luaL_Reg lfota_pkg_funcs[];
extern const luaL_Reg lfota_slots_funcs[];
void lfota_http_register(lua_State *L);

#endif
