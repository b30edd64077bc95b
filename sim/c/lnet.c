/* require "fota.net": one non-blocking TCP (or TLS) client connection of the
 * port layer (port_net.h) as a Lua object, for sim/luatos/luatos_socket.lua
 * (LuatOS's socket API). Nothing here waits: step/send/recv return at once
 * unless a step timeout is given, so the Lua side polls from the message
 * loop the way a module's network task reports events.
 *
 *   net.open(host, port[, tls]) -> conn | nil, msg
 *       tls = { ca = pem, insecure = bool, client_cert = pem, client_key = pem,
 *               client_password = str }: TLS; without it plain TCP.
 *   conn:step([ms])   -> true (ready) | false (in progress) | nil, msg, code
 *   conn:send(s | zbuff[, from]) -> bytes taken (0: would block) | nil, msg, code
 *   conn:recv([max])  -> bytes (maybe "": nothing yet) | false (peer closed) | nil, msg, code
 *   conn:errmsg()     -> the port's detail of the last failure ("" when none)
 *   conn:close()      -> closes; later calls are a Lua error, a second close is not */
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "lbind.h"
#include "core/fota_err.h"
#include "port/port_net.h"

#define LFOTA_NET "fota.net"
#define NET_RECV_MAX (64 * 1024)   /* most bytes one recv returns */
#define NET_STEP_MAX_MS 1000       /* a step never holds the scheduler longer */

typedef struct {
    fota_port_conn *conn;   /* NULL once closed */
} lnet;

static lnet *check_open(lua_State *L)
{
    lnet *n = (lnet *)luaL_checkudata(L, 1, LFOTA_NET);
    luaL_argcheck(L, n->conn != NULL, 1, "connection closed");
    return n;
}

static int fail(lua_State *L, const lnet *n, int rc)
{
    const char *detail = n->conn ? fota_port_conn_errmsg(n->conn) : "";
    lua_pushnil(L);
    lua_pushstring(L, detail[0] ? detail : fota_net_strerror(rc));
    lua_pushinteger(L, rc);
    return 3;
}

/* An optional string field of the tls table at t: its bytes or NULL. The
 * string is also stored in the private table at priv (the connection's user
 * value), so it stays alive however the caller changes its table. */
static const char *tls_field(lua_State *L, int t, int priv, const char *name, size_t *len)
{
    const char *s = NULL;
    *len = 0;
    if (lua_getfield(L, t, name) != LUA_TNIL) {
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "bad argument #3 to 'open' (tls.%s must be a string)", name);
        s = lua_tolstring(L, -1, len);
        if (*len > FOTA_NET_MAX_PEM)
            luaL_error(L, "bad argument #3 to 'open' (tls.%s longer than %d bytes)", name,
                       (int)FOTA_NET_MAX_PEM);
        lua_pushvalue(L, -1);
        lua_setfield(L, priv, name);
    }
    lua_pop(L, 1);
    return s;
}

static int l_open(lua_State *L)
{
    size_t hlen;
    const char *host = luaL_checklstring(L, 1, &hlen);
    lua_Integer port = luaL_checkinteger(L, 2);
    fota_tls_opts tls;
    int use_tls = !lua_isnoneornil(L, 3), rc;
    luaL_argcheck(L, hlen > 0 && hlen <= FOTA_NET_MAX_HOST && strlen(host) == hlen, 1,
                  "host empty, longer than 255 bytes or with NUL");
    luaL_argcheck(L, port >= 1 && port <= 65535, 2, "port out of range (1..65535)");
    memset(&tls, 0, sizeof tls);
    lua_settop(L, 3);
    if (use_tls) {
        luaL_checktype(L, 3, LUA_TTABLE);
        lua_createtable(L, 0, 4);   /* 4: the private copy of the references */
        tls.ca_pem = tls_field(L, 3, 4, "ca", &tls.ca_pem_len);
        tls.client_cert_pem = tls_field(L, 3, 4, "client_cert", &tls.client_cert_len);
        tls.client_key_pem = tls_field(L, 3, 4, "client_key", &tls.client_key_len);
        tls.client_key_pass = tls_field(L, 3, 4, "client_password", &tls.client_key_pass_len);
        lua_getfield(L, 3, "insecure");
        tls.insecure = lua_toboolean(L, -1);
        lua_pop(L, 1);
        if ((tls.client_cert_pem == NULL) != (tls.client_key_pem == NULL))
            return luaL_error(L, "bad argument #3 to 'open' (client_cert and client_key go together)");
    }
    lnet *n = (lnet *)lua_newuserdata(L, sizeof *n);
    n->conn = NULL;
    luaL_setmetatable(L, LFOTA_NET);
    /* The port borrows the certificate buffers until close: the private
     * table, as the user value, keeps them alive that long. */
    if (use_tls) {
        lua_pushvalue(L, 4);
        lua_setuservalue(L, -2);
    }
    if ((rc = fota_port_conn_open(&n->conn, host, (uint16_t)port, use_tls ? &tls : NULL)) != FOTA_OK) {
        n->conn = NULL;
        lua_pushnil(L);
        lua_pushstring(L, fota_strerror(rc));
        return 2;
    }
    return 1;
}

static int l_step(lua_State *L)
{
    lnet *n = check_open(L);
    lua_Integer ms = luaL_optinteger(L, 2, 0);
    luaL_argcheck(L, ms >= 0 && ms <= NET_STEP_MAX_MS, 2, "timeout out of range (0..1000 ms)");
    int rc = fota_port_conn_step(n->conn, (uint32_t)ms);
    if (rc < 0)
        return fail(L, n, rc);
    lua_pushboolean(L, rc == FOTA_OK);
    return 1;
}

static int l_send(lua_State *L)
{
    lnet *n = check_open(L);
    size_t len, sent = 0;
    const char *s = lfota_bytes_from(L, 2, 3, &len);
    int rc = fota_port_conn_send(n->conn, s, len, &sent);
    if (rc < 0)
        return fail(L, n, rc);
    lua_pushinteger(L, (lua_Integer)sent);
    return 1;
}

static int l_recv(lua_State *L)
{
    lnet *n = check_open(L);
    lua_Integer max = luaL_optinteger(L, 2, NET_RECV_MAX);
    luaL_Buffer b;
    size_t got = 0;
    luaL_argcheck(L, max >= 1 && max <= NET_RECV_MAX, 2, "length out of range (1..64 KiB)");
    char *buf = luaL_buffinitsize(L, &b, (size_t)max);
    int rc = fota_port_conn_recv(n->conn, buf, (size_t)max, &got);
    if (rc < 0)
        return fail(L, n, rc);
    if (rc == FOTA_OK && got == 0) {
        lua_pushboolean(L, 0);   /* orderly close by the peer */
        return 1;
    }
    luaL_pushresultsize(&b, rc == FOTA_OK ? got : 0);
    return 1;
}

static int l_errmsg(lua_State *L)
{
    lnet *n = (lnet *)luaL_checkudata(L, 1, LFOTA_NET);
    lua_pushstring(L, n->conn ? fota_port_conn_errmsg(n->conn) : "");
    return 1;
}

static int l_close(lua_State *L)
{
    lnet *n = (lnet *)luaL_checkudata(L, 1, LFOTA_NET);
    fota_port_conn_close(n->conn);
    n->conn = NULL;
    return 0;
}

int luaopen_fota_net(lua_State *L)
{
    static const luaL_Reg methods[] = {
        { "step", l_step }, { "send", l_send }, { "recv", l_recv }, { "errmsg", l_errmsg },
        { "close", l_close }, { "__gc", l_close }, { NULL, NULL }
    };
    static const luaL_Reg funcs[] = { { "open", l_open }, { NULL, NULL } };
    return lfota_open_class(L, LFOTA_NET, methods, funcs);
}
