--- socket (as luatos_socket): LuatOS's socket library on the desktop: the
-- network adapter facts scripts check before they go online (adapter,
-- localIP, dft) and the TCP (and TLS) client a FOTA project keeps to its own
-- server (create, config, linkup, connect, tx, rx, read, wait, discon, close,
-- release, state, debug), over fota.net, the port layer's non-blocking
-- connection. The simulated module's adapters are simnet's: the cellular one
-- (LWIP_GP, the default), whose link follows the simulated network, and any
-- a script set up with netdrv (an SPI Ethernet chip). A socket uses the
-- adapter it was created on; one that is not up holds its connect back.
--
-- Nothing here blocks. While a socket has something to watch, a poll posted
-- on the message bus (simbus, every POLL_MS) drives it and reports what
-- happened as LuatOS's network task does, from inside rtos.receive: to the
-- socket's callback cb(netc, event, param), or with a task name as
-- sys_send(taskName, event, param), or else sys_pub("NWCTRL*", adapter,
-- socket id, event, param). param 0 is success, -1 failure, as on a module.
local simbus = require "simbus"
local net = require "fota.net"
local simnet = require "simnet"

local socket = {
    LWIP_GP = 1, LWIP_STA = 2, LWIP_AP = 3, LWIP_ETH = 4, LWIP_SPI = 5,   -- luat_network_adapter.h
    LWIP_USER0 = 7, LWIP_USER1 = 8, LWIP_USER2 = 9, LWIP_USER3 = 10, LWIP_USER4 = 11, LWIP_USER5 = 12,
    LWIP_USER6 = 13, LWIP_USER7 = 14, LWIP_GP_GW = 15, LWIP_USB = 16, ETH0 = 17,
    -- LuatOS's event ids on an EC618 module (EV_NW_RESULT_* & 0x0fffffff)
    LINK = 0x2000010, ON_LINE = 0x2000011, TX_OK = 0x2000012, CLOSED = 0x2000013, EVENT = 0x2000014,
    POLL_MS = 10,
    MAX_SOCKETS = 8,              -- what a module's stack holds at once
    RX_MAX = 64 * 1024,           -- bytes kept unread; beyond it TCP holds the sender back
    TX_MAX = 1024 * 1024,         -- bytes queued unsent; a bigger tx fails as a module's allocation does
}
local default = socket.LWIP_GP

-- network_ctrl states and what each socket waits for (luat_network_adapter.h)
local LINK_OFF, OFF_LINE, CONNECTING, ONLINE, DISCONNECTING = 0, 1, 3, 5, 7
local W_NONE, W_LINK, W_ONLINE, W_TX, W_OFFLINE, W_EVENT = 0, 1, 2, 3, 4, 5
local STATE_NAMES = { [0] = "硬件离线", "离线", "等待DNS", "正在连接", "正在TLS握手", "在线", "在监听",
                      "正在离线", "未知" }
local EVENT_NAMES = { [socket.LINK] = "LINK", [socket.ON_LINE] = "ON_LINE", [socket.TX_OK] = "TX_OK",
                      [socket.CLOSED] = "CLOSED", [socket.EVENT] = "EVENT" }

local META = { __name = "NWCTRL*" }
META.__index = META
local live = setmetatable({}, { __mode = "k" })   -- netc -> true, until released or collected
local next_id = 0
local polling = false

local function adapter_of(a) return math.tointeger(a) or default end

--- isReady, adapter: the adapter (default: socket.dft()) has an address.
function socket.adapter(a)
    a = adapter_of(a)
    return simnet.up(a) and true or false, a
end

--- ip, netmask, gateway of the adapter, or nil while it is down.
function socket.localIP(a)
    return simnet.address(adapter_of(a))
end

local dns = {}   -- [adapter][index] = "a.b.c.d", what setDNS was given

--- setDNS(adapter, index, ip): the index-th DNS server (from 1; lwIP keeps
-- 2) of an adapter (nil: the default), ip a dotted IPv4 or its big-endian
-- integer. true, or false for an adapter the module does not have or a bad
-- address. The simulated network resolves with the desktop's resolver: the
-- server is recorded (socket.getDNS) and logged, not used.
function socket.setDNS(a, index, ip)
    a = a == nil and default or math.tointeger(a)
    index = math.tointeger(index)
    if math.type(ip) == "integer" and ip >= 0 and ip <= 0xffffffff then
        ip = string.format("%d.%d.%d.%d", ip >> 24 & 255, ip >> 16 & 255, ip >> 8 & 255, ip & 255)
    end
    if not a or not simnet.exists(a) then return false end   -- an adapter the module does not have
    if not index or index < 1 or index > 2 or type(ip) ~= "string" then return false end
    local parts = { ip:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$") }
    if #parts ~= 4 then return false end
    for _, p in ipairs(parts) do
        if #p > 3 or tonumber(p) > 255 then return false end
    end
    dns[a] = dns[a] or {}
    dns[a][index] = ip
    if rawget(_G, "log") then log.info("socket", "dns", index, ip, "(recorded; the desktop's resolver answers)") end
    return true
end

--- The DNS server set for (adapter, index), or nil (simulator only).
function socket.getDNS(a, index)
    return (dns[a == nil and default or a] or {})[index]
end

--- The default adapter (set with an argument), as a module returns it.
function socket.dft(a)
    if a ~= nil then
        a = adapter_of(a)
        if a ~= default and rawget(_G, "log") then
            log.info("sim", "default adapter " .. simnet.name(a) .. " (was " .. simnet.name(default) .. ")")
        end
        default = a
    end
    return default
end

local function argerror(n, fn, msg) error(string.format("bad argument #%d to '%s' (%s)", n, fn, msg), 3) end

local function opt_int(v, n, fn)
    if v == nil then return nil end
    local i = math.tointeger(v)
    if not i then argerror(n, fn, "integer expected, got " .. (math.type(v) or type(v))) end
    return i
end

--- The socket argument: a live netc from socket.create, else a Lua error
-- (a module would dereference a freed control block).
local function check(s, fn)
    if getmetatable(s) ~= META then argerror(1, fn, "socket expected, got " .. type(s)) end
    if s.released then argerror(1, fn, "socket released") end
    return s
end

local function deliver(s, ev, param)
    if s.debug then
        local log = rawget(_G, "log")
        if log then log.debug("socket", s.id, EVENT_NAMES[ev], param) end
    end
    if s.cb then
        s.cb(s, ev, param)
    elseif s.task then
        local send = rawget(_G, "sys_send")
        if send then send(s.task, ev, param) end
    else
        local pub = rawget(_G, "sys_pub")
        if pub then pub("NWCTRL*", s.adapter, s.id, ev, param) end
    end
end

--- Drops the connection at once (LuatOS's force close): unread and unsent
-- bytes go, nothing is reported. The state stays, as on a module.
local function drop(s)
    if s.conn then s.conn:close() end
    s.conn, s.open, s.need_close, s.closing = nil, false, false, false
    s.rx, s.tx, s.tx_from, s.wait = "", "", 1, W_NONE
end

--- The connection broke (peer closed, reset, link down): what was received
-- stays readable; the event the socket waits for (EVENT by default) gets -1.
local function lost(s)
    if s.conn then s.conn:close() end
    s.conn, s.need_close, s.tx, s.tx_from = nil, true, "", 1
    local ev = s.wait == W_TX and socket.TX_OK or socket.EVENT
    s.wait = W_NONE
    deliver(s, ev, -1)
end

local function watched(s)
    return not s.released and (s.conn ~= nil or s.closing or
        (s.state == LINK_OFF and (s.wait == W_LINK or s.wait == W_ONLINE)))
end

local schedule

--- Opens the port connection; false when the port refuses the arguments.
local function start_connect(s)
    local ok, c = pcall(net.open, s.host, s.port, s.tls)
    if not ok or not c then
        s.state, s.wait = OFF_LINE, W_NONE
        return false
    end
    s.conn, s.open, s.state = c, true, CONNECTING
    return true
end

local function pump_online(s)
    if not simnet.up(s.adapter) then return lost(s) end
    while s.tx ~= "" do
        local n = s.conn:send(s.tx, s.tx_from)
        if not n then return lost(s) end
        if n == 0 then break end
        s.tx_from = s.tx_from + n
        if s.tx_from > #s.tx then s.tx, s.tx_from = "", 1 end
    end
    if s.tx == "" and s.wait == W_TX then
        s.wait = W_NONE
        deliver(s, socket.TX_OK, 0)
        if not s.conn then return end
    end
    local got, closed = false, false
    while #s.rx < socket.RX_MAX do
        local d = s.conn:recv(math.min(socket.RX_MAX - #s.rx, 65536))
        if d == "" then break end
        if not d then closed = true break end
        s.rx, got = s.rx .. d, true
    end
    if got then
        if s.wait == W_EVENT then s.wait = W_NONE end
        deliver(s, socket.EVENT, 0)
    end
    if closed and s.conn then lost(s) end
end

local function pump(s)
    if s.closing then
        s.closing, s.state, s.wait = false, OFF_LINE, W_NONE
        return deliver(s, socket.CLOSED, 0)
    end
    if s.state == LINK_OFF then
        if not simnet.up(s.adapter) then return end
        if s.wait == W_LINK then
            s.state, s.wait = OFF_LINE, W_NONE
            return deliver(s, socket.LINK, 0)
        end
        if not start_connect(s) then return deliver(s, socket.ON_LINE, -1) end
    end
    if not s.conn then return end
    if s.state == CONNECTING then
        local ready   -- nil: failed (the link went down, or the port said no)
        if simnet.up(s.adapter) then ready = s.conn:step(0) end
        if ready == false then return end
        if not ready then
            if s.debug and rawget(_G, "log") then log.debug("socket", s.id, "connect failed", s.conn:errmsg()) end
            drop(s)
            s.state = OFF_LINE
            return deliver(s, socket.ON_LINE, -1)
        end
        s.state, s.wait = ONLINE, W_NONE
        return deliver(s, socket.ON_LINE, 0)
    end
    if s.state == ONLINE then pump_online(s) end
end

local function poll()
    polling = false
    local list = {}
    for s in pairs(live) do list[#list + 1] = s end
    table.sort(list, function(a, b) return a.id < b.id end)
    for _, s in ipairs(list) do
        if watched(s) then pump(s) end
    end
    schedule()
end

schedule = function()
    if polling then return end
    for s in pairs(live) do
        if watched(s) then
            polling = true
            simbus.post(socket.POLL_MS, poll)
            return
        end
    end
end

--- socket.create(adapter, cb | taskName) -> netc, or nil for an adapter the
-- module does not have or when MAX_SOCKETS are in use.
function socket.create(adapter, cb)
    adapter = opt_int(adapter, 1, "create") or default
    local t = type(cb)
    if cb ~= nil and t ~= "function" and t ~= "string" and t ~= "number" then
        argerror(2, "create", "function or task name expected, got " .. t)
    end
    if not simnet.exists(adapter) then return nil end
    local n = 0
    for s in pairs(live) do if not s.released then n = n + 1 end end
    if n >= socket.MAX_SOCKETS then
        local log = rawget(_G, "log")
        if log then log.debug("socket", "create fail") end
        return nil
    end
    next_id = next_id + 1
    local s = setmetatable({ id = next_id, adapter = adapter, state = LINK_OFF, wait = W_NONE,
                             rx = "", tx = "", tx_from = 1, open = false }, META)
    if t == "function" then s.cb = cb elseif cb ~= nil then s.task = tostring(cb) end
    live[s] = true
    return s
end

META.__gc = function(s) if s.conn then s.conn:close() s.conn = nil end end
META.__tostring = function(s) return "NWCTRL*: " .. s.id end

function socket.debug(s, on)
    check(s, "debug")
    if type(on) == "boolean" then s.debug = on end
end

local function opt_str(v)
    if type(v) == "string" or type(v) == "number" then return tostring(v) end
end

--- socket.config(netc, local_port, is_udp, is_tls, keep_idle, keep_interval,
-- keep_cnt, server_cert, client_cert, client_key, client_password) -> true;
-- false for UDP, which the simulator does not have.
function socket.config(s, local_port, is_udp, is_tls, keep_idle, keep_interval, keep_cnt,
                       server_cert, client_cert, client_key, client_password)
    check(s, "config")
    opt_int(local_port, 2, "config")
    opt_int(keep_idle, 5, "config")
    opt_int(keep_interval, 6, "config")
    opt_int(keep_cnt, 7, "config")
    if is_udp == true then
        local log = rawget(_G, "log")
        if log then log.error("socket", "UDP is not simulated") end
        s.udp = true   -- its connect then says false (LuatOS's dnsproxy connects to port 0)
        return false
    end
    s.udp = nil
    if is_tls == true then
        local ca, cert = opt_str(server_cert), opt_str(client_cert)
        -- as a module: the server is verified only when a certificate is given
        s.tls = { ca = ca, client_cert = cert, client_key = opt_str(client_key),
                  client_password = opt_str(client_password), insecure = not ca and not cert }
    else
        s.tls = nil
    end
    return true
end

--- ok, linked: true, true when the link is up; else true, false and LINK
-- follows once it is.
function socket.linkup(s)
    check(s, "linkup")
    if simnet.up(s.adapter) then
        s.state, s.wait = OFF_LINE, W_NONE
        return true, true
    end
    s.state, s.wait = LINK_OFF, W_LINK
    schedule()
    return true, false
end

local function ipv4_of(n)
    return string.format("%d.%d.%d.%d", (n >> 24) & 255, (n >> 16) & 255, (n >> 8) & 255, n & 255)
end

--- ok, connected: true, false and ON_LINE (0 or -1) follows; false when the
-- socket is in use or the host is unusable. While the link is down the
-- connect waits for it, as on a module.
function socket.connect(s, ip, port)
    check(s, "connect")
    if math.type(ip) == "integer" then
        ip = ipv4_of(ip)   -- an IPv4 address as a big-endian integer
    elseif type(ip) ~= "string" and type(ip) ~= "number" then
        argerror(2, "connect", "string expected, got " .. type(ip))
    end
    port = opt_int(port, 3, "connect") or argerror(3, "connect", "number expected, got no value")
    if s.udp then return false, false end   -- a socket configured for UDP, which is not simulated
    if port < 1 or port > 65535 then argerror(3, "connect", "port out of range (1..65535)") end
    ip = tostring(ip)
    if s.open or #ip == 0 or #ip > 255 or ip:find("\0", 1, true) then return false, false end
    s.host, s.port, s.need_close, s.closing = ip, port, false, false
    s.rx, s.tx, s.tx_from, s.wait = "", "", 1, W_ONLINE
    if not simnet.up(s.adapter) then
        s.state = LINK_OFF
    elseif not start_connect(s) then
        return false, false
    end
    schedule()
    return true, false
end

local function data_of(data, fn)
    if type(data) == "string" or type(data) == "number" then return tostring(data) end
    if type(data) == "userdata" and data.toStr and data.used then return data:toStr(0, data:used()) end
    argerror(2, fn, "string or zbuff expected, got " .. type(data))
end

local function online(s) return s.open and s.state == ONLINE and not s.need_close end

--- ok, full, acked: true, false, false when queued (TX_OK follows once it
-- has gone out); true, true when the queue has no room for it (wait for
-- TX_OK, then again); false when not connected, or when data alone is
-- bigger than TX_MAX (the socket then has to be closed).
function socket.tx(s, data)
    check(s, "tx")
    data = data_of(data, "tx")
    if not online(s) then return false, false, false end
    if #data > socket.TX_MAX then
        s.need_close = true
        return false, true, false
    end
    if #s.tx - s.tx_from + 1 + #data > socket.TX_MAX then return true, true, false end
    s.tx = s.tx:sub(s.tx_from) .. data
    s.tx_from, s.wait = 1, W_TX
    schedule()
    return true, false, false
end

local function readable(s)
    return s.open and s.state == ONLINE and (not s.need_close or s.rx ~= "")
end

local function take(s, n)
    local out = s.rx:sub(1, n)
    s.rx = s.rx:sub(n + 1)
    return out
end

--- ok, len, ip, port: the bytes received move to the zbuff at its cursor,
-- which grows to take them; false, 0 once the connection is gone.
function socket.rx(s, buff)
    check(s, "rx")
    if type(buff) ~= "userdata" or not buff.write or not buff.resize then
        argerror(2, "rx", "zbuff expected, got " .. type(buff))
    end
    if not readable(s) then return false, 0, nil, nil end
    if s.rx == "" then return true, 0, nil, nil end
    if buff:len() - buff:used() < #s.rx then
        pcall(buff.resize, buff, buff:used() + #s.rx)   -- at its 16 MiB limit it takes what fits
    end
    local n = buff:write(s.rx)
    take(s, n)
    return true, n, nil, nil
end

--- ok, data: socket.rx without a zbuff, at most len bytes (all when len is
-- absent or < 1); false once the connection is gone.
function socket.read(s, len)
    check(s, "read")
    len = opt_int(len, 2, "read")
    if not readable(s) then return false end
    if not len or len < 1 then len = #s.rx end
    return true, take(s, len)
end

--- ok, has_data: true, true when received bytes wait; true, false and
-- EVENT follows (0 data came, -1 the connection broke); false when it is gone.
function socket.wait(s)
    check(s, "wait")
    if s.open and s.state == ONLINE and s.rx ~= "" then
        s.wait = W_EVENT
        return true, true
    end
    if not online(s) then return false, false end
    s.wait = W_EVENT
    return true, false
end

--- ok, closed: true, false for a connected socket (CLOSED follows), true,
-- true for one that was not.
function socket.discon(s)
    check(s, "discon")
    if online(s) then
        s.conn:close()
        s.conn, s.open, s.rx, s.tx, s.tx_from = nil, false, "", "", 1
        s.state, s.wait, s.closing = DISCONNECTING, W_OFFLINE, true
        schedule()
        return true, false
    end
    drop(s)
    s.state = OFF_LINE
    return true, true
end

function socket.close(s)
    drop(check(s, "close"))
end

--- Frees the socket; using it afterwards is an error, releasing it again is not.
function socket.release(s)
    if getmetatable(s) ~= META then argerror(1, "release", "socket expected, got " .. type(s)) end
    if s.released then return end
    drop(s)
    s.released, s.cb, s.task = true, nil, nil
    live[s] = nil
end

--- state, description, as LuatOS's network_ctrl states.
function socket.state(s)
    check(s, "state")
    return s.state, STATE_NAMES[s.state]
end

return socket
