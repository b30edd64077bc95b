--- rtos: the simulated module's natives. The timer and message natives
-- (timer_start, timer_stop, receive, over simbus) are what LuatOS's sys.lua
-- is built on, so a project that ships its own sys.lua runs on them as on a
-- module; ours uses them too.
local simdevice = require "simdevice"
local simbus = require "simbus"

local rtos = {
    INF_TIMEOUT = -1,
    MSG_TIMER = simbus.MSG_TIMER,
}

--- Starts timer id (any integer) for ms; rep as on a module: 0 fires once,
-- -1 forever, n fires n + 1 times. 1 on success, 0 when ms < 1.
function rtos.timer_start(id, ms, rep)
    id = math.tointeger(id) or error("bad argument #1 to 'timer_start' (integer expected)", 2)
    ms = math.floor(tonumber(ms) or error("bad argument #2 to 'timer_start' (number expected)", 2))
    if ms < 1 then return 0 end
    simbus.timer_start(id, ms, math.tointeger(rep) or 0)
    return 1
end

function rtos.timer_stop(id)
    if math.type(id) == "integer" then simbus.timer_stop(id) end
end

--- Waits up to timeout ms (-1: forever) for the next message: MSG_TIMER,
-- id, repeats left for a timer; nothing for another event; -1 on timeout.
function rtos.receive(timeout)
    return simbus.receive(math.tointeger(timeout) or -1)
end

--- "V1103"; with more = true also 1103 and the VM's bits, as on a module.
function rtos.version(more)
    local v = simdevice.profile().core
    if more then return v, tonumber(v:match("%d+")) or 0, 32 end
    return v
end
function rtos.bsp() return simdevice.profile().bsp end
function rtos.firmware()
    local p = simdevice.profile()
    return "LuatOS-SoC_" .. p.core .. "_" .. p.bsp
end
function rtos.buildDate() return "2026-01-01" end

--- total, used, peak bytes: the Lua heap as the VM counts it ("lua") or a
-- module's system heap ("sys", fixed figures of an EC618 module).
local peak = 0
function rtos.meminfo(kind)
    if kind == "sys" then return 3145728, 1048576, 1310720 end
    local used = math.floor(collectgarbage("count") * 1024)
    if used > peak then peak = used end
    return math.max(4194304, peak), used, peak
end

function rtos.reboot() simdevice.reboot() end
--- Power off: the simulated module stops (luatos-sim ends, status 0).
function rtos.poweroff()
    io.stdout:flush()
    os.exit(0, true)
end
function rtos.nop() end
function rtos.setPaths() end
function rtos.autoCollectMem() end
function rtos.standy() end

return rtos
