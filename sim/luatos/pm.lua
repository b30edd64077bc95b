--- pm: LuatOS's power management, as a desktop has it. A desktop never
-- sleeps, so every call is a documented no-op that returns what a module
-- returns when the call succeeds: request/power/ioVol/wakeupPin true,
-- force 0, check true, 0. No deep-sleep timer runs (dtimerCheck false,
-- dtimerList {}, dtimerWkId -1); lastReson says power-on (0, 0, 0).
-- pm.reboot is rtos.reboot, as on a module; pm.shutdown does nothing (a
-- simulator that powered off would just end the run).
local pm = {
    NONE = 0, IDLE = 1, LIGHT = 2, DEEP = 3, HIB = 4,
    USB = 0, GPS = 1, GPS_ANT = 2, CAMERA = 3, DAC_EN = 4, PWK_MODE = 5, WORK_MODE = 6, LDO_CTL = 7,
    IOVOL_ALL_GPIO = 0, IOVOL_SDIO = 1, IOVOL_LCD = 2, IOVOL_CAMA = 3, IOVOL_CAMD = 4,
}

local function int_arg(v, i, fn)
    if math.type(v) == "integer" then return v end
    local why = math.type(v) == "float" and "number has no integer representation"
        or "number expected, got " .. (v == nil and "no value" or type(v))
    error(string.format("bad argument #%d to '%s' (%s)", i, fn, why), 3)
end

function pm.request(mode) int_arg(mode, 1, "request"); return true end
function pm.force(mode) int_arg(mode, 1, "force"); return 0 end
function pm.check() return true, 0 end
function pm.power(id) int_arg(id, 1, "power"); return true end
function pm.ioVol() return true end
function pm.wakeupPin() return true end
function pm.dtimerStart(id, ms) int_arg(id, 1, "dtimerStart"); int_arg(ms, 2, "dtimerStart"); return true end
function pm.dtimerStop(id) int_arg(id, 1, "dtimerStop") end
function pm.dtimerCheck(id) int_arg(id, 1, "dtimerCheck"); return false end
function pm.dtimerList() return {} end
function pm.dtimerWkId() return -1 end
function pm.lastReson() return 0, 0, 0 end
function pm.shutdown() end
function pm.reboot() return require("rtos").reboot() end

return pm
