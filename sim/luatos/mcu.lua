--- mcu: chip facts and the tick counters of the simulated module.
local simdevice = require "simdevice"
local host = require "fota.host"

local mcu = {}
local started = host.ms()

--- 8 raw bytes, as a module returns them (scripts call :toHex()).
function mcu.unique_id()
    return (simdevice.profile().uid:gsub("%x%x", function(h) return string.char(tonumber(h, 16)) end))
end
function mcu.ticks() return host.ms() - started end
function mcu.hz() return 1000 end
--- The 64-bit counter as two values, high * 10^6 + low: mode 0 in us,
-- 1 in ms, 2 in s since boot.
function mcu.ticks2(mode)
    local ms = host.ms() - started
    local v = (mode == 1 and ms) or (mode == 2 and ms // 1000) or ms * 1000
    return v // 1000000, v % 1000000
end
function mcu.x32(v) return string.format("0x%X", math.tointeger(v) or 0) end
function mcu.getClk() return 204 end
function mcu.setClk() return true end

return mcu
