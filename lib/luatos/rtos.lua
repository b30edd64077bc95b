--- rtos: the firmware facts and the reboot of the simulated module.
local simdevice = require "simdevice"

local rtos = {}

function rtos.version() return simdevice.profile().core end
function rtos.bsp() return simdevice.profile().bsp end
function rtos.firmware()
    local p = simdevice.profile()
    return "LuatOS-SoC_" .. p.core .. "_" .. p.bsp
end
function rtos.reboot() simdevice.reboot() end

return rtos
