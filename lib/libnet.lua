--- libnet: LuatOS's blocking helpers over the asynchronous socket library,
-- for a task made with sys.taskInitEx(fn, taskName, ...) whose sockets were
-- created with socket.create(adapter, taskName): each call starts the
-- socket operation and, when it does not complete at once, waits for the
-- socket's event in the task's message queue (sys.waitMsg). Written for
-- luat-fota with LuatOS's arguments and return values; it runs on a module
-- too. A timeout of 0 or nil waits without limit.
local libnet = {}

local function socket() return rawget(_G, "socket") or require "socket" end
local function sysplus() return rawget(_G, "sysplus") or require "sysplus" end

--- Waits for event in taskName's queue: true when it came with 0 (success),
-- false when it came with a failure, nil on timeout.
local function outcome(taskName, event, timeout)
    local msg = sysplus().waitMsg(taskName, event, timeout)
    if type(msg) ~= "table" then return nil end
    return msg[2] == 0
end

--- An operation's first results ok, done: false when it failed, true when
-- it completed at once, else whether its event came with success in time.
local function settle(taskName, timeout, event, ok, done)
    if not ok then return false end
    if done then return true end
    return outcome(taskName, event, timeout) == true
end

--- true once the adapter's link is up, false on failure or timeout.
-- ... as socket.linkup (the netc).
function libnet.waitLink(taskName, timeout, ...)
    return settle(taskName, timeout, socket().LINK, socket().linkup(...))
end

--- true once connected (TLS: after the handshake), false on failure or
-- timeout. ... as socket.connect (netc, ip, port).
function libnet.connect(taskName, timeout, ...)
    return settle(taskName, timeout, socket().ON_LINE, socket().connect(...))
end

--- ok, full: true, false once the data went out; true, true when the
-- socket's queue was full (nothing queued); false, full on failure or
-- timeout. ... as socket.tx (netc, data).
function libnet.tx(taskName, timeout, ...)
    local ok, full, acked = socket().tx(...)
    if not ok then return false, full end
    if full then return true, true end
    if acked then return true, full end
    if outcome(taskName, socket().TX_OK, timeout) then return true, false end
    return false, full
end

--- ok, event: true, true when data waits or an event came (also one sent
-- with sys_send(taskName, socket.EVENT, 0) to stop the wait); true, false on
-- timeout; false, false when the connection broke.
function libnet.wait(taskName, timeout, netc)
    local ok, ready = socket().wait(netc)
    if not ok then return false, false end
    if ready then return true, true end
    local came = outcome(taskName, socket().EVENT, timeout)
    if came == nil then return true, false end
    return came, came
end

--- Disconnects (waiting for CLOSED at most timeout) and closes the socket.
function libnet.close(taskName, timeout, netc)
    local ok, closed = socket().discon(netc)
    if ok and not closed then outcome(taskName, socket().CLOSED, timeout) end
    socket().close(netc)
end

return libnet
