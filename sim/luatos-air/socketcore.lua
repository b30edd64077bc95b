--- socketcore: the Air724 firmware's socket natives, which LuatOS-Air's own
-- lib/socket.lua (and so its http.lua and update.lua) is built on, over
-- fota.net (the port layer's non-blocking TCP/TLS connection):
--   sock_conn_ext(protocol, address, port[, cert]) -> socket index (>= 0),
--     -1 when it cannot start; protocol 0 TCP, 2 TLS (1, UDP: -1, the
--     simulator has no UDP);
--   sock_send(index, data), sock_recv(index, len) -> up to len bytes,
--   sock_close(index), sock_destroy(index).
-- What happens is told as rtos.receive messages, tables {id=, socket_index=,
-- result= | recv_len=}: MSG_SOCK_CONN_CNF (result 0 connected, else
-- failed), MSG_SOCK_SEND_CNF once a send has all gone out, MSG_SOCK_RECV_IND
-- for bytes arrived, MSG_SOCK_CLOSE_IND when the peer or the network closed
-- it, MSG_SOCK_CLOSE_CNF after sock_close. A poll on the message bus every
-- POLL_MS drives the open sockets, as the firmware's network task does.
local simbus = require "simbus"
local simdevice = require "simdevice"
local net = require "fota.net"

local M = { POLL_MS = 10, MAX_SOCKETS = 8 }
local socks = {}       -- index -> { conn, state = "connecting"|"online"|"closed", tx = {}, rx = "" }
local polling = false
local rtos

local function post(msg) simbus.post_msg(0, function() return msg end) end

local function close_ind(i, s)
    s.state = "closed"
    if s.conn then s.conn:close() s.conn = nil end
    post({ id = rtos.MSG_SOCK_CLOSE_IND, socket_index = i, result = 0 })
end

local schedule

local function pump(i, s)
    if s.state == "connecting" then
        local ready
        if simdevice.network_up() then ready = s.conn:step(0) end
        if ready == false then return end
        if not ready then
            s.conn:close() s.conn, s.state = nil, "closed"
            post({ id = rtos.MSG_SOCK_CONN_CNF, socket_index = i, result = 1 })
            return
        end
        s.state = "online"
        post({ id = rtos.MSG_SOCK_CONN_CNF, socket_index = i, result = 0 })
    end
    if s.state ~= "online" then return end
    if not simdevice.network_up() then return close_ind(i, s) end
    while #s.tx > 0 do
        local item = s.tx[1]
        local n = s.conn:send(item.data, item.from)
        if not n then return close_ind(i, s) end
        if n == 0 then break end
        item.from = item.from + n
        if item.from > #item.data then
            table.remove(s.tx, 1)
            post({ id = rtos.MSG_SOCK_SEND_CNF, socket_index = i, result = 0 })
        end
    end
    local got = 0
    while true do
        local d = s.conn:recv(65536)
        if d == "" then break end
        if not d then
            if got > 0 then post({ id = rtos.MSG_SOCK_RECV_IND, socket_index = i, recv_len = got }) end
            return close_ind(i, s)
        end
        s.rx, got = s.rx .. d, got + #d
    end
    if got > 0 then post({ id = rtos.MSG_SOCK_RECV_IND, socket_index = i, recv_len = got }) end
end

local function poll()
    polling = false
    for i = 0, M.MAX_SOCKETS - 1 do
        local s = socks[i]
        if s and s.conn then pump(i, s) end
    end
    schedule()
end

schedule = function()
    if polling then return end
    for _, s in pairs(socks) do
        if s.conn then
            polling = true
            simbus.post(M.POLL_MS, poll)
            return
        end
    end
end

local function index_arg(i, fn)
    i = math.tointeger(i)
    if not i then error("bad argument #1 to '" .. fn .. "' (number expected)", 3) end
    return i
end

function M.sock_conn_ext(protocol, address, port, cert)
    if type(address) ~= "string" then error("bad argument #2 to 'sock_conn_ext' (string expected)", 2) end
    port = math.tointeger(tonumber(port)) or error("bad argument #3 to 'sock_conn_ext' (number expected)", 2)
    if protocol ~= 0 and protocol ~= 2 then return -1 end
    local i
    for k = 0, M.MAX_SOCKETS - 1 do
        if not socks[k] then i = k break end
    end
    if not i then return -1 end
    local tls
    if protocol == 2 then
        -- Air checks the server only when given its CA (cert.caCert): else it does not
        local given = type(cert) == "table" and cert or {}
        tls = { ca = given.caCert, client_cert = given.clientCert, client_key = given.clientKey,
                insecure = given.caCert == nil }
    end
    local ok, c = pcall(net.open, address, port, tls)
    if not ok or not c then return -1 end
    socks[i] = { conn = c, state = "connecting", tx = {}, rx = "" }
    schedule()
    return i
end
M.sock_conn = M.sock_conn_ext

function M.sock_send(i, data)
    i = index_arg(i, "sock_send")
    local s = socks[i]
    if not s or s.state ~= "online" then return false end
    s.tx[#s.tx + 1] = { data = tostring(data), from = 1 }
    schedule()
    return true
end

function M.sock_recv(i, len)
    i = index_arg(i, "sock_recv")
    local s = socks[i]
    if not s then return "" end
    len = math.tointeger(len) or #s.rx
    local out = s.rx:sub(1, len)
    s.rx = s.rx:sub(#out + 1)
    return out
end

function M.sock_close(i)
    i = index_arg(i, "sock_close")
    local s = socks[i]
    if not s then return end
    if s.conn then s.conn:close() s.conn = nil end
    s.state = "closed"
    post({ id = rtos.MSG_SOCK_CLOSE_CNF, socket_index = i, result = 0 })
end

function M.sock_destroy(i)
    i = index_arg(i, "sock_destroy")
    local s = socks[i]
    if s and s.conn then s.conn:close() end
    socks[i] = nil
end

--- The firmware's rtos, for the message ids.
function M.install(r)
    rtos = r
    return M
end

return M
