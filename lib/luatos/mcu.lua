--- mcu: chip facts and the tick counter of the simulated module.
local simdevice = require "simdevice"
local host = require "fota.host"

local mcu = {}

--- 8 raw bytes, as a module returns them (scripts call :toHex()).
function mcu.unique_id()
    return (simdevice.profile().uid:gsub("%x%x", function(h) return string.char(tonumber(h, 16)) end))
end
function mcu.ticks() return host.ms() end
function mcu.hz() return 1000 end

return mcu
