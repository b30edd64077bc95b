--- sys for LuatOS-Air projects: the desktop's LuatOS scheduler
-- (sim/luatos/sys.lua: taskInit, wait, waitUntil, publish, subscribe,
-- timerStart, timerLoopStart, timerStop, run, ...) with what Air's sys adds:
-- sys.init(mode, lprfnc) and sys.restart(reason). The network coming up is
-- published as IP_READY_IND (by the Air boot), as Air's link layer does.
-- One scheduler: LuatOS's sys.lua, found on package.path without this
-- folder (the source tree's sim/luatos/, or where luarocks installed it),
-- extended in place.
local rtos = require "rtos"

local function luatos_sys()
    local path = package.path:gsub("[^;]*luatos%-air[^;]*;?", "")
    local file = package.searchpath("sys", path) or error("LuatOS's sys.lua not found on " .. path)
    return assert(loadfile(file))("sys", file)
end
local sys = luatos_sys()

--- Air: sys.init(mode, lprfnc) before sys.run(). mode 0 runs fully, 1 asks
-- for power-on by key only; lprfnc is called on a low-power power-on (Air's
-- demos pass 0 for none). The desktop always powers on normally: it is never
-- called.
function sys.init(mode, _lprfnc)
    if mode ~= nil and math.tointeger(mode) == nil then
        error("bad argument #1 to 'init' (number expected, got " .. type(mode) .. ")", 2)
    end
    log.info("sys.init", "mode", math.tointeger(mode) or 0, "poweron reason", rtos.poweron_reason())
end

--- Air: sys.restart(reason) logs why and restarts the module.
function sys.restart(reason)
    log.warn("sys.restart", tostring(reason))
    rtos.restart()
end

_G.sys = sys
package.loaded.sys = sys
return sys
