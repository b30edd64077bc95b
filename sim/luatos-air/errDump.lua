--- errDump for LuatOS-Air projects without LuatOS-Air's own lib/: the
-- error report. The library sends the firmware's crash dump and what
-- appendErr collected to a server (udp:// or http://) once the network is
-- up; the desktop has no crash dump (rtos.get_fatal_info() is ""), and the
-- simulator sends nothing: request checks its address and logs once that
-- reports stay on the desktop; appendErr keeps the text (at most MAX bytes,
-- as the library's bound) and logs it.
local errDump = {}

local MAX = 900
local collected = ""
local addr

--- appendErr(s): an error text for the next report.
function errDump.appendErr(s)
    if type(s) ~= "string" then error("bad argument #1 to 'appendErr' (string expected, got " .. type(s) .. ")", 2) end
    log.warn("errDump.appendErr", s)
    collected = (collected .. s):sub(-MAX)
end

--- The text appendErr collected (the report the library would send).
function errDump.collected() return collected end

--- request(addr, period): addr "udp://host:port" or "http://...", period
-- (ms) between reports.
function errDump.request(a, period)
    if type(a) ~= "string" or not (a:match("^udp://[^:]+:%d+$") or a:match("^https?://")) then
        error("bad argument #1 to 'request' (udp://host:port or http://... expected)", 2)
    end
    if period ~= nil and math.tointeger(period) == nil then
        error("bad argument #2 to 'request' (integer expected, got " .. type(period) .. ")", 2)
    end
    if addr == nil then log.info("errDump.request", a, "(the simulator sends no error reports)") end
    addr = a
end

function errDump.setNetworkLog() end
function errDump.updateNetworkLog() end

_G.errDump = errDump
return errDump
