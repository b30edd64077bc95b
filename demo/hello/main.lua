-- A LuatOS project that runs unchanged on a module and in bin/luatos-sim:
-- it logs, runs a timer loop and a task, and reboots once.
PROJECT = "hello"
VERSION = "1.0.0"

local sys = require "sys"

-- A boot counter on the module's file system survives the reboot.
local function boots()
    local f = io.open("/boot_count")
    local n = f and tonumber(f:read("a")) or 0
    if f then f:close() end
    f = assert(io.open("/boot_count", "w"))
    f:write(tostring(n + 1))
    f:close()
    return n + 1
end

local boot = boots()
log.info("main", PROJECT, VERSION, "core", rtos.version(), "imei", mobile.imei(), "boot", boot)

local ticks = 0
local function tick()
    ticks = ticks + 1
    log.info("timer", "tick", ticks)
    sys.publish("TICK", ticks)
end
sys.timerLoopStart(tick, 100)

sys.taskInit(function()
    while true do
        local _, n = sys.waitUntil("TICK", 1000)
        if n == 3 then break end
    end
    if boot == 1 then
        log.info("main", "three ticks seen, rebooting")
        rtos.reboot()
    end
    log.info("main", "second boot done, stopping the timer")
    sys.timerStopAll(tick)
end)

sys.run()
