/* The network primitives of the fota module:
 *   fota.request(opts) -> transfer   a request whose (small) body is kept in RAM
 *   fota.download(opts) -> transfer  a package streamed into the staging area,
 *                                    resumed with Range when a cut left part of it
 * A transfer does bounded work per t:poll(budget_ms), so a Lua scheduler
 * keeps running its timers and tasks while one is in flight. */
#include "lua/lfota_http.h"

#include <stdlib.h>
#include <string.h>

#include "core/download.h"
#include "core/http.h"
#include "lua/lfota_ctx.h"
#include "core/fota_err.h"
#include "port/port.h"

#define XFER "luat_fota.transfer"
#define DEFAULT_MAX_BODY (64u * 1024u)
#define MAX_MAX_BODY (1024u * 1024u)
#define DEFAULT_POLL_MS 10
#define DEFAULT_TIMEOUT_MS 60000u
#define DEFAULT_DST_TIMEOUT_MS 600000u
#define DEFAULT_STAGE_TIMEOUT_MS 1200000u

/* A transfer is a download session (core/download): with the context's
 * staging area for fota.download, without for fota.request. What is not a
 * package (every answer of a request) comes here: a 2xx body of a request
 * with opts.dst goes to that file, anything else to RAM. */
typedef struct {
    fota_download dl;
    lfota_state *ctx;
    fota_tls_opts tls;
    int owner;             /* this download holds the context's staging area */
    int ended;             /* the end of the session has been handled */
    int dst_routed;        /* the status has been looked at (opts.dst) */
    fota_port_file *dst;   /* request with opts.dst: a 2xx body goes to this file */
    uint64_t dst_len, dst_max;
    char dst_path[FOTA_STAGE_PATH_MAX];
    uint8_t *mem;          /* body kept in RAM, at most max_body bytes */
    size_t mem_len, mem_cap, max_body;
} xfer;

static int open_dst(xfer *x)
{
    int status = fota_download_status(&x->dl), rc;
    x->dst_routed = 1;
    if (!x->dst_path[0] || status < 200 || status >= 300)
        return 0;
    if ((rc = fota_port_open(&x->dst, x->dst_path, FOTA_PORT_WRITE | FOTA_PORT_TRUNC)) != FOTA_OK) {
        fota_download_fail(&x->dl, FOTA_HTTP_ERR_DOWNLOAD, fota_strerror(rc));
        return -1;
    }
    return 0;
}

static int take_body(void *ud, const uint8_t *data, size_t len)
{
    xfer *x = ud;
    if (!x->dst_routed && open_dst(x) != 0)
        return 1;
    if (x->dst) {
        int rc = len > x->dst_max - x->dst_len ? FOTA_ERR_RANGE : fota_port_pwrite(x->dst, x->dst_len, data, len);
        if (rc != FOTA_OK) {
            fota_download_fail(&x->dl, FOTA_HTTP_ERR_DOWNLOAD,
                               rc == FOTA_ERR_RANGE ? "body larger than max_size" : fota_strerror(rc));
            return 1;
        }
        x->dst_len += len;
        return 0;
    }
    if (len > x->max_body - x->mem_len) {
        fota_download_fail(&x->dl, FOTA_HTTP_ERR_BODY, "response body larger than max_body");
        return 1;
    }
    if (x->mem_len + len > x->mem_cap) {
        size_t cap = x->mem_cap ? x->mem_cap : 1024;
        uint8_t *p;
        while (cap < x->mem_len + len)
            cap *= 2;
        if (cap > x->max_body)
            cap = x->max_body;
        p = realloc(x->mem, cap);
        if (!p) {
            fota_download_fail(&x->dl, FOTA_HTTP_ERR_BODY, "out of memory");
            return 1;
        }
        x->mem = p;
        x->mem_cap = cap;
    }
    memcpy(x->mem + x->mem_len, data, len);
    x->mem_len += len;
    return 0;
}

/* The session ended: the staging area is free again, and opts.dst holds
 * the whole body (an empty one too) or nothing. */
static void end_transfer(xfer *x)
{
    x->ended = 1;
    if (x->owner) {
        x->ctx->stage_owner = 0;
        x->owner = 0;
    }
    if (fota_download_result(&x->dl) == 0 && !x->dst_routed)
        open_dst(x);
    if (x->dst) {
        int sync = fota_download_result(&x->dl) == 0 ? fota_port_sync(x->dst) : FOTA_OK;
        fota_port_close(x->dst);
        x->dst = NULL;
        if (sync != FOTA_OK)
            fota_download_fail(&x->dl, FOTA_HTTP_ERR_DOWNLOAD, fota_strerror(sync));
        if (fota_download_result(&x->dl) < 0)   /* no half file left behind as if it were the body */
            fota_port_remove(x->dst_path);
    }
}

static xfer *check_xfer(lua_State *L)
{
    return (xfer *)luaL_checkudata(L, 1, XFER);
}

/* t:poll([budget_ms]) -> n: > 0 running, 0 done, or < 0, message. */
static int l_poll(lua_State *L)
{
    xfer *x = check_xfer(L);
    lua_Integer budget = luaL_optinteger(L, 2, DEFAULT_POLL_MS);
    int result;

    luaL_argcheck(L, budget >= 0 && budget <= 60000, 2, "budget out of range (0..60000 ms)");
    if (fota_download_step(&x->dl, (uint32_t)budget) <= 0 && !x->ended)
        end_transfer(x);
    result = fota_download_result(&x->dl);
    lua_pushinteger(L, result);
    if (result >= 0)
        return 1;
    lua_pushstring(L, fota_download_errmsg(&x->dl));
    return 2;
}

static int l_status(lua_State *L)
{
    int status = fota_download_status(&check_xfer(L)->dl);
    if (!status)
        return 0;
    lua_pushinteger(L, status);
    return 1;
}

/* Header names as the server sent them; repeated headers joined with ", ". */
static int l_headers(lua_State *L)
{
    const fota_http *h = fota_download_http(&check_xfer(L)->dl);
    int n;
    lua_newtable(L);
    if (!h)
        return 1;
    n = fota_http_header_count(h);
    for (int i = 0; i < n; i++) {
        const char *name, *value;
        if (fota_http_header_at(h, i, &name, &value) != 0)
            continue;
        if (lua_getfield(L, -1, name) == LUA_TSTRING) {
            lua_pushstring(L, ", ");
            lua_pushstring(L, value);
            lua_concat(L, 3);
        } else {
            lua_pop(L, 1);
            lua_pushstring(L, value);
        }
        lua_setfield(L, -2, name);
    }
    return 1;
}

static int l_body(lua_State *L)
{
    xfer *x = check_xfer(L);
    lua_pushlstring(L, x->mem ? (const char *)x->mem : "", x->mem_len);
    return 1;
}

/* t:progress() -> bytes received (a resumed part counts), total or nil. */
static int l_progress(lua_State *L)
{
    xfer *x = check_xfer(L);
    uint64_t done, total;
    if (fota_download_staged(&x->dl)) {
        fota_download_progress(&x->dl, &done, &total);
    } else {
        const fota_http *h = fota_download_http(&x->dl);
        const fota_http_response *r = h ? fota_http_response_info(h) : NULL;
        done = x->dst_path[0] ? x->dst_len : x->mem_len;
        total = r && r->has_length ? r->content_length : FOTA_HTTP_UNKNOWN;
    }
    lua_pushinteger(L, (lua_Integer)done);
    if (total != FOTA_HTTP_UNKNOWN)
        lua_pushinteger(L, (lua_Integer)total);
    else
        lua_pushnil(L);
    return 2;
}

/* t:resumed() -> the offset the download went on from (0 = from scratch). */
static int l_resumed(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)fota_download_resumed(&check_xfer(L)->dl));
    return 1;
}

static int l_close(lua_State *L)
{
    xfer *x = check_xfer(L);
    fota_download_free(&x->dl);
    if (x->owner) {
        x->ctx->stage_owner = 0;
        x->owner = 0;
    }
    if (x->dst) {
        fota_port_close(x->dst);
        x->dst = NULL;
        fota_port_remove(x->dst_path);
    }
    free(x->mem);
    x->mem = NULL;
    x->mem_len = x->mem_cap = 0;
    return 0;
}

static const char *opt_string(lua_State *L, int t, const char *key, size_t *len)
{
    const char *s = NULL;
    lua_getfield(L, t, key);
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "bad option '%s' (string expected, got %s)", key, luaL_typename(L, -1));
        s = lua_tolstring(L, -1, len);
        /* Anchored in the transfer's uservalue table (at index 2). */
        lua_setfield(L, 2, key);
    } else {
        lua_pop(L, 1);
    }
    return s;
}

static lua_Integer opt_int(lua_State *L, int t, const char *key, lua_Integer def, lua_Integer lo, lua_Integer hi)
{
    lua_Integer v = def;
    int isint;
    lua_getfield(L, t, key);
    if (!lua_isnil(L, -1)) {
        v = lua_tointegerx(L, -1, &isint);
        if (!isint || v < lo || v > hi)
            luaL_error(L, "bad option '%s' (integer %d..%d expected)", key, (int)lo, (int)hi);
    }
    lua_pop(L, 1);
    return v;
}

/* opts.headers {name = value} -> "Name: value\r\n" lines (checked by the client). */
/* opts.headers {name = value} as "Name: value\r\n" lines (the core checks
 * them). Built with lua_concat at fixed stack slots: a luaL_Buffer may keep
 * its own slot on the stack, which lua_next's indices would then miss. */
#define MAX_HEADERS_TEXT 8192u
static const char *build_headers(lua_State *L, int t)
{
    int tbl, acc;
    lua_getfield(L, t, "headers");
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return NULL;
    }
    if (!lua_istable(L, -1))
        luaL_error(L, "bad option 'headers' (table expected, got %s)", luaL_typename(L, -1));
    tbl = lua_gettop(L);
    lua_pushliteral(L, "");
    acc = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, tbl)) {                     /* key, value */
        int vt = lua_type(L, -1);
        size_t nl, vl;
        const char *name, *value;
        if (lua_type(L, -2) != LUA_TSTRING || (vt != LUA_TSTRING && vt != LUA_TNUMBER))
            luaL_error(L, "bad option 'headers' (string names and values expected)");
        name = lua_tolstring(L, -2, &nl);
        lua_pushvalue(L, -1);
        value = lua_tolstring(L, -1, &vl);
        /* One table entry is one header line: no line breaks smuggled in. */
        if (memchr(name, ':', nl) || memchr(name, '\r', nl) || memchr(name, '\n', nl) ||
            memchr(value, '\r', vl) || memchr(value, '\n', vl))
            luaL_error(L, "bad option 'headers' (line break or ':' in header %s)", name);
        lua_pop(L, 1);
        lua_pushvalue(L, acc);
        lua_pushvalue(L, -3);                      /* name */
        lua_pushliteral(L, ": ");
        lua_pushvalue(L, -4);                      /* value (a copy: converting it is safe) */
        lua_pushliteral(L, "\r\n");
        lua_concat(L, 5);
        lua_replace(L, acc);
        lua_pop(L, 1);                             /* keep the key for lua_next */
        if (lua_rawlen(L, acc) > MAX_HEADERS_TEXT)
            luaL_error(L, "bad option 'headers' (more than %d bytes)", (int)MAX_HEADERS_TEXT);
    }
    /* Anchored in the transfer's uservalue table (at index 2). */
    lua_pushvalue(L, acc);
    lua_setfield(L, 2, "headers");
    {
        const char *s = lua_tostring(L, acc);
        lua_settop(L, tbl - 1);
        return s;
    }
}

static int refuse(lua_State *L, int code, const char *msg)
{
    lua_pushnil(L);
    lua_pushinteger(L, code);
    lua_pushstring(L, msg);
    return 3;
}

/* The options both functions take: the request, its time limits, TLS, the
 * RAM body's bound. 0, or a refusal pushed (returns 3). */
static int parse_request(lua_State *L, xfer *x, int to_stage, fota_http_request *req)
{
    size_t len;
    req->url = opt_string(L, 1, "url", &len);
    if (!req->url)
        return luaL_error(L, "bad option 'url' (string expected)");
    if (len > FOTA_HTTP_MAX_URL)
        return refuse(L, FOTA_HTTP_ERR_URL, "url too long");
    req->method = opt_string(L, 1, "method", &len);
    req->headers = build_headers(L, 1);
    req->body = (const uint8_t *)opt_string(L, 1, "body", &req->body_len);
    /* No transfer waits forever: LuatOS http's defaults (fota mode 20 min,
     * dst 10 min, else 60 s) when no timeout is given. */
    req->timeout_ms = (uint32_t)opt_int(L, 1, "timeout", 0, 0, 86400000);
    if (req->timeout_ms == 0) {
        lua_getfield(L, 1, "dst");
        req->timeout_ms = to_stage ? DEFAULT_STAGE_TIMEOUT_MS : !lua_isnil(L, -1) ? DEFAULT_DST_TIMEOUT_MS
                                                                                    : DEFAULT_TIMEOUT_MS;
        lua_pop(L, 1);
    }
    req->idle_timeout_ms = (uint32_t)opt_int(L, 1, "idle_timeout", 0, 0, 86400000);
    req->min_rate = (uint32_t)opt_int(L, 1, "min_rate", 0, 0, 100000000);
    req->connect_timeout_ms = (uint32_t)opt_int(L, 1, "connect_timeout", 0, 0, 600000);
    req->max_redirects = (int)opt_int(L, 1, "max_redirects", 0, -1, 20);
    x->max_body = (size_t)opt_int(L, 1, "max_body", DEFAULT_MAX_BODY, 0, MAX_MAX_BODY);
    x->tls.ca_pem = opt_string(L, 1, "server_cert", &x->tls.ca_pem_len);
    x->tls.insecure = x->tls.ca_pem == NULL;   /* LuatOS: no server_cert, no verification */
    x->tls.client_cert_pem = opt_string(L, 1, "client_cert", &x->tls.client_cert_len);
    x->tls.client_key_pem = opt_string(L, 1, "client_key", &x->tls.client_key_len);
    x->tls.client_key_pass = opt_string(L, 1, "client_password", &x->tls.client_key_pass_len);
    req->tls = &x->tls;
    return 0;
}

/* fota.request's opts.dst and max_size. */
static void parse_dst(lua_State *L, xfer *x)
{
    size_t len;
    const char *dst = opt_string(L, 1, "dst", &len);
    x->dst_max = (uint64_t)opt_int(L, 1, "max_size", 16 * 1024 * 1024, 0, 0x7fffffff);
    if (dst) {
        if (len == 0 || len >= sizeof x->dst_path)
            luaL_error(L, "bad option 'dst' (path empty or too long)");
        memcpy(x->dst_path, dst, len + 1);
    }
}

/* fota.download's staging area: opts.path (or the device's), max_size,
 * resume. 0, or a refusal pushed (returns 3). */
static int parse_stage(lua_State *L, lfota_state *c, fota_download_opts *o, char *path_buf, size_t path_len)
{
    size_t len;
    const char *path = opt_string(L, 1, "path", &len);
    o->capacity = (uint32_t)opt_int(L, 1, "max_size", FOTA_STAGE_DEFAULT_CAPACITY, FOTA_PKG_PREFIX_LEN,
                                    0x7fffffff);
    lua_getfield(L, 1, "resume");
    o->resume = lua_isnil(L, -1) || lua_toboolean(L, -1);
    lua_pop(L, 1);
    if (!path)
        path = lfota_default_stage_path(c, path_buf, path_len);
    if (!path || strlen(path) >= path_len)
        return refuse(L, FOTA_HTTP_ERR_DOWNLOAD, "no usable staging path");
    o->stage = &c->stage;
    o->stage_path = path;
    return 0;
}

/* Starts the session; a download owns the staging area until it ends. */
static int start(lua_State *L, xfer *x, const fota_download_opts *o)
{
    int rc;
    if (o->stage) {
        if (x->ctx->stage_owner)
            return refuse(L, FOTA_HTTP_ERR_STATE, "another download owns the staging area");
        x->ctx->verdict = 1;   /* whatever isDone knew is about another package */
    }
    if ((rc = fota_download_init(&x->dl, o)) != 0)
        return refuse(L, rc, fota_http_strerror(rc));
    if (o->stage) {
        x->ctx->stage_owner = 1;
        x->owner = 1;
    }
    if (fota_download_result(&x->dl) <= 0)   /* the whole package was staged already */
        end_transfer(x);
    return 1;
}

static int new_transfer(lua_State *L, int to_stage)
{
    char path[FOTA_STAGE_PATH_MAX];
    fota_download_opts o;
    xfer *x;
    int rc;

    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    lua_newtable(L);                                  /* 2: anchors */
    x = (xfer *)lua_newuserdata(L, sizeof *x);        /* 3 */
    memset(x, 0, sizeof *x);
    x->ctx = lfota_ctx(L);
    luaL_setmetatable(L, XFER);
    lua_pushvalue(L, 2);
    lua_setuservalue(L, 3);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_setfield(L, 2, "ctx");

    memset(&o, 0, sizeof o);
    o.body = take_body;
    o.body_ud = x;
    if ((rc = parse_request(L, x, to_stage, &o.req)) != 0)
        return rc;
    if (!to_stage)
        parse_dst(L, x);
    else if ((rc = parse_stage(L, x->ctx, &o, path, sizeof path)) != 0)
        return rc;
    return start(L, x, &o);
}

static int l_request(lua_State *L) { return new_transfer(L, 0); }
static int l_download(lua_State *L) { return new_transfer(L, 1); }

const luaL_Reg lfota_http_funcs[] = {
    { "request", l_request },
    { "download", l_download },
    { NULL, NULL }
};

void lfota_http_register(lua_State *L)
{
    static const luaL_Reg methods[] = {
        { "poll", l_poll },
        { "status", l_status },
        { "headers", l_headers },
        { "body", l_body },
        { "progress", l_progress },
        { "resumed", l_resumed },
        { "close", l_close },
        { NULL, NULL }
    };
    if (luaL_newmetatable(L, XFER)) {
        luaL_newlib(L, methods);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, l_close);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);
}
