--- mobile: the cellular side of the simulated module. Identity comes from
-- the device profile; registration follows the simulated network (up after
-- --net-delay, never with --offline).
local simdevice = require "simdevice"

local mobile = {}
local flight = false

local function online() return simdevice.network_up() and not flight end

function mobile.imei() return simdevice.profile().imei end
--- A test SIM's identity, derived from the IMEI so it is stable per device.
function mobile.imsi() return "46000" .. simdevice.profile().imei:sub(-10) end
function mobile.iccid() return "898600" .. simdevice.profile().imei:sub(-14) end
function mobile.number() return nil end
--- 0..31 like AT+CSQ; 0 without a network.
function mobile.csq() return online() and 24 or 0 end
function mobile.rssi() return online() and -65 or -113 end
--- 1 registered (home network), 0 not registered, as a module reports.
function mobile.status() return online() and 1 or 0 end
--- Flight mode: enable true/false sets it and returns the previous state.
function mobile.flymode(_, enable)
    local was = flight
    if enable ~= nil then flight = enable and true or false end
    return was
end
function mobile.simid() return 0 end

return mobile
