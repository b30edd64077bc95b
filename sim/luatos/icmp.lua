--- icmp: LuatOS's ping over the simulated adapters, as LuatOS's exnetif
-- uses it to check an adapter (local_network_mode pings its gateway):
--   icmp.setup(socket.LWIP_STA); icmp.ping(socket.LWIP_STA, gw)
--   -> PING_RESULT(adapter, ms, ip, ttl)
-- A desktop program cannot send ICMP without privileges, so the simulated
-- network answers what it is made of: an address on the loopback network
-- (127.x.x.x, where every simulated adapter's address and gateway are)
-- answers PING_MS later; any other address never answers, as an
-- unreachable host, and the script's own timeout decides.
local simnet = require "simnet"
local simbus = require "simbus"
local argcheck = require "argcheck"

local icmp = { PING_MS = 5, TTL = 64 }
local set_up = {}

local function log() return rawget(_G, "log") end

--- icmp.setup(id) -> true for an adapter the module has.
function icmp.setup(id)
    id = argcheck.int(id, 1, id ~= nil)
    if not simnet.exists(id) then return false end
    set_up[id] = true
    return true
end

--- icmp.ping(id, ip[, len]) -> 1 when the echo request went out (as
-- LuatOS's, an integer); nothing for an address that is not a dotted IPv4
-- or an adapter the module does not have.
function icmp.ping(id, ip, len)
    id = argcheck.int(id, 1, id ~= nil)
    if type(ip) ~= "string" then argcheck.error(2, "string expected, got " .. type(ip)) end
    argcheck.opt_int(len, 3, 128)
    if not set_up[id] and not icmp.setup(id) then
        local l = log()
        if l then l.warn("icmp", "adapter " .. id .. ": icmp setup failed") end
        return
    end
    local parts = { ip:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$") }
    for _, p in ipairs(parts) do
        if tonumber(p) > 255 then parts = {} break end
    end
    if #parts ~= 4 then
        local l = log()
        if l then l.warn("icmp", "bad destination " .. ip) end
        return
    end
    if simnet.up(id) and parts[1] == "127" then
        simbus.post(icmp.PING_MS, function()
            if not simnet.up(id) then return end
            local pub = rawget(_G, "sys_pub") or (rawget(_G, "sys") and _G.sys.publish)
            if pub then pub("PING_RESULT", id, icmp.PING_MS, ip, icmp.TTL) end
        end)
    end
    return 1
end

--- icmp.debug(on): accepted (the simulator has no lwIP trace).
function icmp.debug() end

return icmp
