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

--- What the boot publishes when the network comes up: IP_READY_IND for
-- the simulator's libraries; nothing once the project's own ril has set up
-- uart.ATC (its link.lua publishes IP_READY_IND from the AT answers).
function M.ip_ready_id()
    if require("atc").is_open() then return nil end
    return M.IP_READY
end

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

--- What LuatOS-Air's own lib/*.lua (sys, clib, ril, net, link, pins,
-- netLed, errDump) calls of the firmware: the message ids rtos.receive
-- gives, uart.ATC (sim/luatos-air/atc.lua), pio and pmd, and the trace and
-- fatal-info natives.
function M.install_natives(rtos, simdevice)
    local atc = require "atc"
    rtos.MSG_UART_RXDATA, rtos.MSG_UART_TX_DONE = atc.MSG_UART_RXDATA, atc.MSG_UART_TX_DONE
    rtos.MSG_INT, rtos.MSG_KEYPAD, rtos.MSG_PDP_DEACT_IND = 4, 5, 6
    rtos.MSG_SOCK_CONN_CNF, rtos.MSG_SOCK_SEND_CNF, rtos.MSG_SOCK_RECV_IND = 7, 8, 9
    rtos.MSG_SOCK_CLOSE_CNF, rtos.MSG_SOCK_CLOSE_IND = 10, 11
    rtos.POWERON_KEY, rtos.POWERON_CHARGER, rtos.POWERON_ALARM, rtos.POWERON_RESTART = 0, 1, 2, 3
    -- On Air every rtos.receive gives a message (Air's sys.run indexes it):
    -- the simulator's own events (the network coming up, UART polls) give
    -- 0, a message no handler is registered for.
    local receive = rtos.receive
    function rtos.receive(timeout)
        local r = table.pack(receive(timeout))
        if r.n == 0 then return 0 end
        return table.unpack(r, 1, r.n)
    end
    function rtos.set_trace() end          -- where the trace goes: the desktop's is stdout
    function rtos.set_lua_info() end       -- the text a crash dump starts with
    function rtos.get_fatal_info() return "" end   -- no crash dump on the desktop
    function rtos.remove_fatal_info() end
    function rtos.get_build_time() return "2026-01-01 00:00:00" end
    local set_network = simdevice.set_network
    simdevice.set_network = function(up)
        set_network(up)
        atc.network(up)
    end
    local uart = _G.uart
    uart.ATC, uart.PAR_NONE, uart.PAR_EVEN, uart.PAR_ODD = atc.ID, 0, 2, 1
    uart.STOP_1, uart.STOP_2 = 0, 2
    local setup, write, read, on, close = uart.setup, uart.write, uart.read, uart.on, uart.close
    function uart.setup(id, ...) if id == atc.ID then return atc.setup() end return setup(id, ...) end
    function uart.write(id, ...) if id == atc.ID then return atc.write(...) end return write(id, ...) end
    function uart.read(id, fmt, ...)
        if id == atc.ID then return atc.read(fmt) end
        if fmt == "*l" then   -- Air's read formats on a real UART: a line; "*s"/"*a" all there is
            local got = read(id)
            return got
        end
        return read(id, math.tointeger(fmt) or nil, ...)
    end
    function uart.on(id, ev, fn) if id == atc.ID then return atc.on(ev, fn) end return on(id, ev, fn) end
    function uart.close(id) if id == atc.ID then return atc.close() end return close(id) end
    _G.socketcore = require("socketcore").install(rtos)
    package.loaded.socketcore = _G.socketcore
    require("airfota").install(rtos, _G.fota, simdevice.profile().bsp)
    local native = require "airnative"
    _G.pio, _G.pmd, _G.iconv = native.pio(_G.gpio, rtos), native.pmd(), native.iconv()
    package.loaded.pio, package.loaded.pmd, package.loaded.iconv = _G.pio, _G.pmd, _G.iconv
    -- pm and errDump are Lua libraries on Air (lib/pm.lua, lib/errDump.lua),
    -- with APIs of their own: required by name, not LuatOS's globals.
    _G.pm, package.loaded.pm, _G.errDump, package.loaded.errDump = nil, nil, nil, nil
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
    M.install_natives(rtos, simdevice)
    -- a project shipping LuatOS-Air's own socket.lua runs it, on socketcore;
    -- else the simulator's Air socket is the global socket
    -- (the project's folders are the ones before the firmware's, which start with this folder)
    local project_path = package.path:match("^(.-);[^;]*luatos%-air[/\\]%?%.lua") or ""
    if package.searchpath("socket", project_path) then
        _G.socket, package.loaded.socket = nil, nil
    else
        local socket = require "airsocket"
        _G.socket, package.loaded.socket = socket, socket
    end
    -- Air's log library's levels and trace switch (the desktop prints every level, to stdout)
    local log = _G.log
    log.LOGLEVEL_TRACE, log.LOGLEVEL_DEBUG, log.LOGLEVEL_INFO = 0x01, 0x02, 0x03
    log.LOGLEVEL_WARN, log.LOGLEVEL_ERROR, log.LOGLEVEL_FATAL, log.LOGLEVEL_SILENT = 0x04, 0x05, 0x06, 0x07
    log.openTrace = log.openTrace or function() end
    package.loaded.http, _G.http = nil, nil   -- Air's http is required by name
    _G.sysplus, package.loaded.sysplus = nil, nil
    _G.netdrv = nil   -- LuatOS's network device manager; LuatOS-Air has none
end

return M
