--- misc for LuatOS-Air projects: the module's identity and clock, from the
-- simulated device (sim/luatos/simdevice.lua): getImei, getSn, getMuid,
-- getClock, getWeek, getVbatt. A plain 5.3 module; require "misc" also
-- makes it the global misc, as Air's module() does.
local simdevice = require "simdevice"

local misc = {}

function misc.getImei() return simdevice.profile().imei end

--- The serial number written at the factory: the profile's sn, "" when the
-- device has none (as a module that was never given one).
function misc.getSn() return simdevice.profile().sn or "" end

--- The module's unique id (the chip's), as a hex string.
function misc.getMuid() return simdevice.profile().uid end

--- {year=, month=, day=, hour=, min=, sec=}: the desktop's local time.
function misc.getClock()
    local t = os.date("*t")
    return { year = t.year, month = t.month, day = t.day, hour = t.hour, min = t.min, sec = t.sec }
end

--- 1 (Monday) .. 7 (Sunday), as Air numbers the days.
function misc.getWeek()
    local w = tonumber(os.date("%w"))
    return w == 0 and 7 or w
end

--- Battery voltage in mV: the desktop is on mains, a full 4.2 V.
function misc.getVbatt() return 4200 end

_G.misc = misc
return misc
