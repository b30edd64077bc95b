--- The LuatOS-Air flavour of the simulator's boot (sim/luatos/boot.lua
-- with run option air=1, from bin/luatos-sim --air): the slots, flashing,
-- paths and network are the common boot's; this adds what an Air module's
-- firmware differs in:
--  * its bootloader applies /luazip/update.bin (the upgrade update.request
--    saved) before the scripts run, through fota.verify + fota.commit:
--    power-cut safe, since the file stays until the commit is done and a
--    commit that was cut is done again at the next boot;
--  * Lua 5.1's module()/package.seeall, unpack, table.getn (compat51);
--  * Air's rtos additions (get_version, restart, poweron_reason, make_dir,
--    tick), socket.isReady, and IP_READY_IND for the network coming up.
-- Air's libraries (sys, misc, http, update, common) are in this folder,
-- which the boot puts before sim/luatos/ in package.path.
local M = {}

M.UPDATE_FILE = "/luazip/update.bin"
M.IP_READY = "IP_READY_IND"
--- A new Air device: an Air724UG (RDA8910) unless told otherwise.
M.DEFAULTS = { bsp = "RDA8910", model = "Air724UG" }

--- Applies /luazip/update.bin if it is there. fota is the fota module, map
-- turns a module path into a host path; state is fota.boot()'s, bsp the
-- device's. Returns the state to run (a new fota.boot() after a commit).
function M.apply_update(fota, map, state, bsp)
    local path = map(M.UPDATE_FILE)
    local f = io.open(path, "rb")
    if not f then return state end
    f:close()
    -- the running image is the delta base and the rollback floor (fota.verify's default)
    local opts = { path = path, bsp = bsp }
    local ok, info, msg = fota.verify(opts)
    if not ok then
        log.warn("sim", "/luazip/update.bin refused:", info, msg)
        os.remove(path)
        return state
    end
    log.info("sim", "applying /luazip/update.bin: script", info.version or "-", "core", info.core or "-")
    local cok, reason, cmsg = fota.commit(opts)
    os.remove(path)   -- (commit drops it too)
    if not cok then
        log.warn("sim", "/luazip/update.bin not applied:", reason, cmsg)
        return state
    end
    local st, e = fota.boot()
    if not st then error("boot after /luazip/update.bin failed: " .. tostring(e)) end
    log.info("sim", "/luazip/update.bin applied")
    return st
end

--- The firmware's Air additions, once the LuatOS globals are in place.
-- map: module path -> host path (for rtos.make_dir).
function M.install(map)
    require("compat51").install(_G)
    local rtos, simdevice = _G.rtos, require "simdevice"
    --- "Luat_V1103_RDA8910": Air's core version string, the core's number
    -- and the bsp (the IoT platform's firmware name is PROJECT_ and this).
    function rtos.get_version()
        local p = simdevice.profile()
        return "Luat_V" .. p.core:match("%d+") .. "_" .. p.bsp
    end
    rtos.restart = rtos.reboot
    --- Why the module powered on: 0, a power key press / power-on, as Air numbers it.
    function rtos.poweron_reason() return 0 end
    function rtos.poweron() end
    function rtos.tick() return (require("fota.host").ms() * 32) // 1000 end   -- 32 kHz ticks
    function rtos.make_dir(path)
        local host = map(path)
        return os.execute("mkdir -p " .. simdevice.sh(host)) == true
    end
    os.execute("mkdir -p " .. simdevice.sh(map("/luazip")))
    local socket = require "airsocket"
    _G.socket, package.loaded.socket = socket, socket
    package.loaded.http, _G.http = nil, nil   -- Air's http is required by name
    _G.sysplus, package.loaded.sysplus = nil, nil
    _G.netdrv = nil   -- LuatOS's network device manager; LuatOS-Air has none
end

return M
