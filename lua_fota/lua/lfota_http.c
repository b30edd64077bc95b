/* The network primitives of the fota module:
 *   fota.request(opts) -> transfer   a request whose (small) body is kept in RAM
 *   fota.download(opts) -> transfer  a package streamed into the staging area,
 *                                    resumed with Range when a cut left part of it
 * A transfer does bounded work per t:poll(budget_ms), so a Lua scheduler
 * keeps running its timers and tasks while one is in flight. */
#include "lua/lfota_http.h"

#include <stdlib.h>
#include <string.h>

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

typedef struct {
    fota_http *http;
    fota_ctx *ctx;
    fota_tls_opts tls;
    int to_stage;          /* download: 2xx bodies go to the staging area */
    int routed;            /* the status has been looked at (download) */
    int into_stage;        /* this body goes to the stage (else RAM) */
    fota_port_file *dst;   /* request with opts.dst: a 2xx body goes to this file */
    uint64_t dst_len, dst_max;
    char dst_path[FOTA_STAGE_PATH_MAX];
    int resuming;          /* asked for Range from resume_from */
    uint64_t resume_from;
    uint8_t *mem;          /* body kept in RAM, at most max_body bytes */
    size_t mem_len, mem_cap, max_body;
    int result;            /* > 0 running, 0 done, < 0 failed (sticky) */
    char errmsg[160];
    uint32_t capacity;
    char url[FOTA_HTTP_MAX_URL + 1];
    char stage_path[FOTA_STAGE_PATH_MAX];
    int staged_before;     /* the whole package was already staged: no request made */
} xfer;

static void set_error(xfer *x, int code, const char *msg)
{
    x->result = code;
    snprintf(x->errmsg, sizeof x->errmsg, "%s", msg);
}

/* Hands the staging area back. A complete package stays open so that
 * fota.isDone() and fota.finish() see it, as after LuatOS's http fota mode. */
static void release_stage(xfer *x)
{
    if (!x->to_stage || !x->ctx->stage_owner)
        return;
    x->ctx->stage_owner = 0;
    if (!(x->result == 0 && x->into_stage))
        fota_stage_free(&x->ctx->stage);
}

/* Looks at the final status before the first body byte: a package goes to
 * the stage (appended on a matching 206, from scratch otherwise), anything
 * else (the platform's JSON "no upgrade" answers) to RAM. */
static int route(xfer *x)
{
    const fota_http_response *r = fota_http_response_info(x->http);
    const char *etag, *validator;
    int rc;

    x->routed = 1;
    if (x->dst_path[0] && r->status >= 200 && r->status < 300) {
        if ((rc = fota_port_open(&x->dst, x->dst_path, FOTA_PORT_WRITE | FOTA_PORT_TRUNC)) != FOTA_OK) {
            set_error(x, FOTA_HTTP_ERR_DOWNLOAD, fota_strerror(rc));
            return -1;
        }
        return 0;
    }
    if (x->resuming && r->status == 416) {
        /* The part we hold is not a prefix of what the server has now: the
         * next try starts from scratch instead of asking for it again. */
        fota_stage_discard(x->stage_path);
        x->resuming = 0;
    }
    if (!x->to_stage || (r->status != 200 && r->status != 206))
        return 0;
    if (r->status == 206 && x->resuming) {
        if (!r->has_range || r->range_start != x->resume_from) {
            set_error(x, FOTA_HTTP_ERR_HEADER, "206 does not continue where the partial package ends");
            return -1;
        }
        x->into_stage = 1;
        return 0;
    }
    if (r->status == 206 && (!r->has_range || r->range_start != 0)) {
        set_error(x, FOTA_HTTP_ERR_HEADER, "unrequested partial content");
        return -1;
    }
    /* A full body: the server ignored the Range or the package changed. */
    x->resuming = 0;
    if ((rc = fota_stage_init(&x->ctx->stage, x->stage_path, x->capacity)) != FOTA_OK) {
        set_error(x, FOTA_HTTP_ERR_DOWNLOAD, fota_strerror(rc));
        return -1;
    }
    /* Only a package the server can name (If-Range) can be resumed. */
    etag = fota_http_header(x->http, "ETag");
    validator = etag ? etag : fota_http_header(x->http, "Last-Modified");
    if (validator && strlen(validator) < FOTA_STAGE_VALIDATOR_MAX &&
        (rc = fota_stage_set_origin(&x->ctx->stage, x->url, validator)) != FOTA_OK) {
        set_error(x, FOTA_HTTP_ERR_DOWNLOAD, fota_strerror(rc));
        return -1;
    }
    x->into_stage = 1;
    return 0;
}

static int sink(void *ud, const uint8_t *data, size_t len)
{
    xfer *x = ud;
    if (!x->routed && route(x) != 0)
        return 1;
    if (x->into_stage) {
        long r = fota_stage_write(&x->ctx->stage, data, len);
        if (r < 0) {
            set_error(x, FOTA_HTTP_ERR_FOTA, r == FOTA_ERR_FORMAT ? "not a luat-fota package"
                      : r == FOTA_ERR_RANGE ? "package larger than allowed" : fota_strerror((int)r));
            return 1;
        }
        return 0;
    }
    if (x->dst) {
        int rc = len > x->dst_max - x->dst_len ? FOTA_ERR_RANGE : fota_port_pwrite(x->dst, x->dst_len, data, len);
        if (rc != FOTA_OK) {
            set_error(x, FOTA_HTTP_ERR_DOWNLOAD, rc == FOTA_ERR_RANGE ? "body larger than max_size" : fota_strerror(rc));
            return 1;
        }
        x->dst_len += len;
        return 0;
    }
    if (len > x->max_body - x->mem_len) {
        set_error(x, FOTA_HTTP_ERR_BODY, "response body larger than max_body");
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
            set_error(x, FOTA_HTTP_ERR_BODY, "out of memory");
            return 1;
        }
        x->mem = p;
        x->mem_cap = cap;
    }
    memcpy(x->mem + x->mem_len, data, len);
    x->mem_len += len;
    return 0;
}

/* The transfer ended at the HTTP level: a download must have a complete package. */
static void conclude(xfer *x)
{
    long done;
    if (!x->routed && route(x) != 0)
        return;
    if (!x->into_stage) {
        x->result = 0;
        return;
    }
    done = fota_stage_done(&x->ctx->stage);
    if (done == 0) {
        x->result = 0;   /* the resume record stays until fota.finish() */
    } else {
        char msg[96];
        snprintf(msg, sizeof msg, "package incomplete: %u of %u bytes", (unsigned)x->ctx->stage.written,
                 (unsigned)x->ctx->stage.total);
        set_error(x, FOTA_HTTP_ERR_FOTA, msg);
    }
}

static void finish_transfer(xfer *x, int rc)
{
    if (rc == FOTA_HTTP_OK) {
        conclude(x);
    } else if (x->result == 1 || x->result == 0) {
        /* The client's own error: keep its detail. */
        const char *detail = fota_http_errmsg(x->http);
        set_error(x, rc, detail && *detail ? detail : fota_http_strerror(rc));
    }
    if (x->dst) {
        int sync = x->result == 0 ? fota_port_sync(x->dst) : FOTA_OK;
        fota_port_close(x->dst);
        x->dst = NULL;
        if (sync != FOTA_OK)
            set_error(x, FOTA_HTTP_ERR_DOWNLOAD, fota_strerror(sync));
        if (x->result < 0)   /* no half file left behind as if it were the body */
            fota_port_remove(x->dst_path);
    }
    if (x->to_stage) {
        /* A cut connection keeps the part for a resume; bad data does not. */
        int resumable = x->result == FOTA_HTTP_ERR_CLOSE || x->result == FOTA_HTTP_ERR_RX ||
                        x->result == FOTA_HTTP_ERR_TIMEOUT;
        if (x->result < 0 && !resumable && (x->into_stage || x->resuming))
            fota_stage_discard(x->stage_path);
        else if (x->result < 0 && x->into_stage)
            fota_stage_checkpoint(&x->ctx->stage);   /* keep all that arrived */
        release_stage(x);
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
    uint64_t deadline;

    luaL_argcheck(L, budget >= 0 && budget <= 60000, 2, "budget out of range (0..60000 ms)");
    deadline = fota_port_now_ms() + (uint64_t)budget;
    while (x->result > 0) {
        uint64_t now = fota_port_now_ms();
        int rc = fota_http_step(x->http, now < deadline ? (uint32_t)(deadline - now) : 0, sink, x);
        if (rc != FOTA_HTTP_AGAIN) {
            finish_transfer(x, rc);
            break;
        }
        if (fota_port_now_ms() >= deadline)
            break;
    }
    lua_pushinteger(L, x->result);
    if (x->result >= 0)
        return 1;
    lua_pushstring(L, x->errmsg);
    return 2;
}

static int l_status(lua_State *L)
{
    xfer *x = check_xfer(L);
    if (x->staged_before) {
        lua_pushinteger(L, 206);
        return 1;
    }
    if (!x->http || !fota_http_have_headers(x->http))
        return 0;
    lua_pushinteger(L, fota_http_response_info(x->http)->status);
    return 1;
}

/* Header names as the server sent them; repeated headers joined with ", ". */
static int l_headers(lua_State *L)
{
    xfer *x = check_xfer(L);
    int n;
    lua_newtable(L);
    if (!x->http || !fota_http_have_headers(x->http))
        return 1;
    n = fota_http_header_count(x->http);
    for (int i = 0; i < n; i++) {
        const char *name, *value;
        if (fota_http_header_at(x->http, i, &name, &value) != 0)
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
    const fota_http_response *r = x->http ? fota_http_response_info(x->http) : NULL;
    if (x->into_stage) {
        lua_pushinteger(L, x->ctx->stage.written);
        if (x->ctx->stage.total)
            lua_pushinteger(L, x->ctx->stage.total);
        else if (r && r->has_range && r->range_total != FOTA_HTTP_UNKNOWN)
            lua_pushinteger(L, (lua_Integer)r->range_total);
        else if (r && r->has_length)
            lua_pushinteger(L, (lua_Integer)(r->content_length + x->resume_from));
        else
            lua_pushnil(L);
        return 2;
    }
    lua_pushinteger(L, (lua_Integer)(x->dst_path[0] ? x->dst_len : x->mem_len));
    if (r && r->has_length)
        lua_pushinteger(L, (lua_Integer)r->content_length);
    else
        lua_pushnil(L);
    return 2;
}

/* t:resumed() -> the offset the download went on from (0 = from scratch). */
static int l_resumed(lua_State *L)
{
    xfer *x = check_xfer(L);
    lua_pushinteger(L, x->into_stage && x->resuming ? (lua_Integer)x->resume_from : 0);
    return 1;
}

static int l_close(lua_State *L)
{
    xfer *x = check_xfer(L);
    if (x->result > 0)
        set_error(x, FOTA_HTTP_ERR_STATE, "closed");
    release_stage(x);
    if (x->dst) {
        fota_port_close(x->dst);
        x->dst = NULL;
        fota_port_remove(x->dst_path);
    }
    fota_http_free(x->http);
    x->http = NULL;
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

static int new_transfer(lua_State *L, int to_stage)
{
    fota_ctx *c = lfota_ctx(L);
    fota_http_request req;
    size_t len;
    xfer *x;
    int rc;

    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    lua_newtable(L);                                  /* 2: anchors */
    x = (xfer *)lua_newuserdata(L, sizeof *x);        /* 3 */
    memset(x, 0, sizeof *x);
    x->ctx = c;
    x->to_stage = to_stage;
    x->result = 1;
    luaL_setmetatable(L, XFER);
    lua_pushvalue(L, 2);
    lua_setuservalue(L, 3);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_setfield(L, 2, "ctx");

    memset(&req, 0, sizeof req);
    req.url = opt_string(L, 1, "url", &len);
    if (!req.url)
        return luaL_error(L, "bad option 'url' (string expected)");
    if (len > FOTA_HTTP_MAX_URL) {
        lua_pushnil(L);
        lua_pushinteger(L, FOTA_HTTP_ERR_URL);
        lua_pushstring(L, "url too long");
        return 3;
    }
    memcpy(x->url, req.url, len + 1);
    req.method = opt_string(L, 1, "method", &len);
    req.headers = build_headers(L, 1);
    req.body = (const uint8_t *)opt_string(L, 1, "body", &req.body_len);
    /* No transfer waits forever: LuatOS http's defaults (fota mode 20 min,
     * dst 10 min, else 60 s) when no timeout is given. */
    req.timeout_ms = (uint32_t)opt_int(L, 1, "timeout", 0, 0, 86400000);
    if (req.timeout_ms == 0) {
        lua_getfield(L, 1, "dst");
        req.timeout_ms = to_stage ? DEFAULT_STAGE_TIMEOUT_MS : !lua_isnil(L, -1) ? DEFAULT_DST_TIMEOUT_MS
                                                                                  : DEFAULT_TIMEOUT_MS;
        lua_pop(L, 1);
    }
    req.idle_timeout_ms = (uint32_t)opt_int(L, 1, "idle_timeout", 0, 0, 86400000);
    req.min_rate = (uint32_t)opt_int(L, 1, "min_rate", 0, 0, 100000000);
    req.connect_timeout_ms = (uint32_t)opt_int(L, 1, "connect_timeout", 0, 0, 600000);
    req.max_redirects = (int)opt_int(L, 1, "max_redirects", 0, -1, 20);
    x->max_body = (size_t)opt_int(L, 1, "max_body", DEFAULT_MAX_BODY, 0, MAX_MAX_BODY);
    x->tls.ca_pem = opt_string(L, 1, "server_cert", &x->tls.ca_pem_len);
    x->tls.insecure = x->tls.ca_pem == NULL;   /* LuatOS: no server_cert, no verification */
    x->tls.client_cert_pem = opt_string(L, 1, "client_cert", &x->tls.client_cert_len);
    x->tls.client_key_pem = opt_string(L, 1, "client_key", &x->tls.client_key_len);
    x->tls.client_key_pass = opt_string(L, 1, "client_password", &x->tls.client_key_pass_len);
    req.tls = &x->tls;

    if (!to_stage) {
        const char *dst = opt_string(L, 1, "dst", &len);
        x->dst_max = (uint64_t)opt_int(L, 1, "max_size", 16 * 1024 * 1024, 0, 0x7fffffff);
        if (dst) {
            if (len == 0 || len >= sizeof x->dst_path)
                return luaL_error(L, "bad option 'dst' (path empty or too long)");
            memcpy(x->dst_path, dst, len + 1);
        }
    } else {
        const char *path = opt_string(L, 1, "path", &len);
        x->capacity = (uint32_t)opt_int(L, 1, "max_size", FOTA_STAGE_DEFAULT_CAPACITY, FOTA_PKG_PREFIX_LEN,
                                        0x7fffffff);
        lua_getfield(L, 1, "resume");
        int resume = lua_isnil(L, -1) || lua_toboolean(L, -1);
        lua_pop(L, 1);
        if (!path)
            path = lfota_default_stage_path(c, x->stage_path, sizeof x->stage_path);
        if (!path || strlen(path) >= sizeof x->stage_path) {
            lua_pushnil(L);
            lua_pushinteger(L, FOTA_HTTP_ERR_DOWNLOAD);
            lua_pushstring(L, "no usable staging path");
            return 3;
        }
        if (path != x->stage_path)
            memcpy(x->stage_path, path, strlen(path) + 1);
        if (c->stage_owner) {
            lua_pushnil(L);
            lua_pushinteger(L, FOTA_HTTP_ERR_STATE);
            lua_pushstring(L, "another download owns the staging area");
            return 3;
        }
        /* Go on from a cut download of the same URL, when the server can say
         * (If-Range) whether the package is still the same. */
        if (resume && fota_stage_resume_origin(&c->stage, x->stage_path, x->capacity, x->url) == FOTA_OK &&
            c->stage.written > 0 &&
            (c->stage.state == FOTA_STAGE_RECEIVING || c->stage.state == FOTA_STAGE_COMPLETE)) {
            x->resuming = 1;
            x->resume_from = c->stage.written;
            req.use_range = 1;
            req.range_start = x->resume_from;
            req.if_range = lua_pushstring(L, c->stage.validator);
            lua_setfield(L, 2, "if_range");
        } else {
            /* Nothing is dropped yet: a staged package survives a "no
             * upgrade" answer; a new package replaces it in route(). */
            fota_stage_free(&c->stage);
        }
        c->stage_owner = 1;
        c->verdict = 1;   /* whatever isDone knew is about another package */
        if (x->resuming && c->stage.state == FOTA_STAGE_COMPLETE) {
            /* Every byte is already here (a cut came before fota.finish):
             * done without asking the network, as a 206 of nothing more. */
            x->staged_before = 1;
            x->into_stage = 1;
            x->result = 0;
            release_stage(x);
            return 1;
        }
    }
    rc = fota_http_init(&x->http, &req);
    if (rc != 0) {
        release_stage(x);
        lua_pushnil(L);
        lua_pushinteger(L, rc);
        lua_pushstring(L, fota_http_strerror(rc));
        return 3;
    }
    return 1;
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
