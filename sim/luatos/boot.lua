--- One boot of a simulated module. Like a module's bootloader it reads the
-- boot record (rolling back an unconfirmed or damaged upgrade, applying a
-- staged package), then runs the scripts of the active slot with LuatOS's
-- globals, until rtos.reboot() or until nothing is left to run.
-- A device never flashed gets PROJECT's files and a factory core first.
-- Started by bin/luatos-sim: lua5.3 boot.lua ROOT PROJECT DEVICE BOOT_NO [key=value...]
local root, project, device_dir, boot_no = ...
boot_no = tonumber(boot_no) or 1

local run_dir = device_dir .. "/run"
-- key=value options: the run's own, the rest fills a new device's profile.
local options, run = {}, {}
local RUN_OPTIONS = { flash = true, net_delay_ms = true, offline = true, exit_reboot_delay_ms = true, air = true,
    gpio = true, sd = true }
for i = 5, select("#", ...) do
    local k, v = select(i, ...):match("^([%w_]+)=(.*)$")
    local listed = k and (RUN_OPTIONS[k] or k:match("^uart_%d+$") or k:match("^wifi_%d+$"))
    if listed then run[k] = v elseif k then options[k] = v end
end

-- air=1 (--air): a LuatOS-Air module; its libraries come before LuatOS's.
local lib_path = table.concat({ root .. "/lib/?.lua", root .. "/sim/?.lua", root .. "/sim/luatos/?.lua",
    package.path }, ";")
if run.air == "1" then
    local air_boot = package.searchpath("luatos-air.boot", lib_path) or error("sim/luatos-air/boot.lua not found")
    lib_path = air_boot:gsub("boot%.lua$", "?.lua") .. ";" .. lib_path
end
package.path = lib_path
-- FOTA_BUILD picks another build of the C module (the sanitizer build).
local build = os.getenv("FOTA_BUILD") or (root .. "/build")
package.cpath = table.concat({ build .. "/?.so", package.cpath }, ";")

local net_delay_ms = tonumber(run.net_delay_ms) or 300
local exit_reboot_delay_ms = tonumber(run.exit_reboot_delay_ms) or 15000   -- LuatOS's LUAT_EXIT_REBOOT_DELAY

local simdevice = require "simdevice"
local simbus = require "simbus"
local air = run.air == "1" and require "luatos-air.boot"
if air then
    for k, v in pairs(air.DEFAULTS) do options[k] = options[k] or v end
end
local profile = simdevice.open(device_dir, options)

-- LuatOS's Lua 5.3 is built with LUA_COMPAT_5_1: unpack, loadstring, module ...
require("compat51").install_luatos(_G)
-- LuatOS's print joins its arguments (through the global tostring) with one space, not a tab
-- (test/golden/log_format); LuatOS-Air's Lua 5.1 print is left as it is.
if not air then
    function _G.print(...)
        local parts = {}
        for i = 1, select("#", ...) do parts[i] = tostring((select(i, ...))) end
        io.stdout:write(table.concat(parts, " "), "\n")
        io.stdout:flush()
    end
end
-- LuatOS's built-in (C) modules, as globals; they are never a project's own.
_G.log = require "log"
_G.rtos = require "rtos"
_G.mobile = require "mobile"
_G.mcu = require "mcu"
_G.json = require "json"
_G.hmeta = require "hmeta"
-- (named so it does not hide luasocket from the desktop's own tools)
_G.socket = require "luatos_socket"
package.loaded.socket = _G.socket
_G.netdrv = require "netdrv"
-- Wi-Fi and ping are LuatOS's (an Air724's firmware has neither)
if not air then
    _G.wlan = require "wlan"
    _G.icmp = require "icmp"
end
local fota = require "fota"
_G.fota = fota
_G.zbuff = require "fota.zbuff"
_G.http = require "http"
-- The module's script area (profile script_area, bytes): a package whose
-- scripts add up to more is refused. By default the bsp's LUAT_SCRIPT_SIZE
-- (its luat_conf_bsp.h): an EC718 with 8 MB of flash (HM, U, UM: Air780EHM,
-- Air8000) 512 KiB, another EC718 (Air780EP/EPM) 256 KiB; an Air724
-- (RDA8910) 1 MiB, room for the LuatOS-Air library Luatools ships with every
-- project (484 KB as source) and the project; else the core's default, an
-- Air780E's (EC618) 128 KiB.
local function bsp_script_area(bsp)
    bsp = tostring(bsp or "")
    if bsp == "RDA8910" then return 1024 * 1024 end
    if bsp:match("^EC718[HU]") then return 512 * 1024 end
    if bsp:match("^EC718") then return 256 * 1024 end
end
fota.device(device_dir, { script_area = math.tointeger(tonumber(profile.script_area)) or
    bsp_script_area(profile.bsp) })
require "strext"
_G.crypto = require "fota.crypto"
_G.fskv = require "fskv"
_G.pm = require "pm"
_G.errDump = require "errdump"
_G.uart = require "uart"
-- The pin bank (the bsp's numbering), the SD card slot (--sd DIR) and the
-- SPI buses the card demos set up.
_G.gpio = require "gpio"
_G.gpio.sim.board(profile.bsp)
_G.fatfs = require "fatfs"
_G.spi = require "spi"
_G.fatfs.sim.card(run.sd)

local simnet = require "simnet"
local sh = simdevice.sh
local function die(msg, code)
    io.stderr:write("luatos-sim: ", msg, "\n")
    os.exit(code or 1)
end

-- The factory image: every file of the project (dot files skipped) as the
-- script slot, and the profile's core version as the core slot.
local function flash()
    local factory = device_dir .. "/factory"
    os.execute("mkdir -p " .. sh(factory))
    local packed, _, why = fota.pack(project, factory .. "/script.lfsa")
    if not packed then die("cannot flash " .. project .. ": " .. tostring(why), 2) end
    local f = assert(io.open(factory .. "/core.bin", "wb"))
    f:write(simdevice.core_image(profile.core))
    f:close()
    local main = io.open(project .. "/main.lua")
    local version = main and main:read("a"):match('VERSION%s*=%s*"(%d+%.%d+%.%d+)"') or ""
    if main then main:close() end
    assert(fota.flash({ core = profile.core, core_image = factory .. "/core.bin",
        script = factory .. "/script.lfsa", version = version }))
    log.info("sim", "flashed", project, "script", version, "core", profile.core)
    -- A device flashed with a trusted key is provisioned with it for life:
    -- from now on a missing or swapped key file refuses every package.
    local kf = io.open(device_dir .. "/fota/trusted.pem", "rb")
    local pem = kf and kf:read("a")
    if kf then kf:close() end
    if pem and pem ~= "" then
        local pok, _, perr = fota.provision_key(pem)
        if not pok then die("cannot provision fota/trusted.pem: " .. tostring(perr), 2) end
        log.info("sim", "provisioned with the signing key fota/trusted.pem")
    end
end

-- The port layer's file access (the simulator's own files, not the module's).
local host = require "fota.host"

local function boot_slots()
    local st, e = fota.boot()
    if not st and e == "unflashed" then
        flash()
        st, e = fota.boot()
    end
    if not st then die("boot failed: " .. tostring(e) .. " (no valid image in any slot)", 3) end
    return st
end

if run.flash then os.execute("rm -rf " .. sh(device_dir .. "/slots")) end
local state = boot_slots()

-- An edited project is flashed again, as a developer would with Luatools,
-- unless the device has since been upgraded over the air.
local factory_script = device_dir .. "/factory/script.lfsa"
if boot_no == 1 and not run.flash and host.read(factory_script) then
    local candidate = device_dir .. "/factory/candidate.lfsa"
    local packed = fota.pack(project, candidate)
    local now, flashed = packed and host.read(candidate), host.read(factory_script)
    os.remove(candidate)
    if now and now ~= flashed then
        if host.read(state.running.script_path) == flashed then
            log.info("sim", "the project changed since it was flashed: flashing it again")
            os.execute("rm -rf " .. sh(device_dir .. "/slots"))
            state = boot_slots()
        else
            log.warn("sim", "the project changed since it was flashed, but the device runs an upgrade it got",
                "over the air (script " .. tostring(state.running.version) .. "): kept;",
                "run with --flash to flash the project")
        end
    end
end
if air then state = air.apply_update(fota, function(p) return simdevice.path(p, run_dir) end, state, profile.bsp) end
if state.last_result == "rolled_back" and state.rollback_reason ~= "none" then
    log.warn("sim", "rolled back to the previous image:", state.rollback_reason)
end
-- Trust on first sight: fota.boot provisions a device never provisioned with
-- the key file it finds, as the flash above does with one already there.
if state.provisioned_now then log.info("sim", "provisioned with the signing key fota/trusted.pem, found at boot") end
if state.applied_staged then log.info("sim", "staged package applied at boot:", state.applied_staged) end

-- The running core is what the boot record says, whatever the profile held.
profile.core = state.running.core
os.execute("rm -rf " .. sh(run_dir))
local ok, xerr = fota.extract(state.running.script_path, run_dir)
if not ok then die("cannot unpack the script slot: " .. tostring(xerr), 3) end

-- Luatools puts every file of a project, subfolders too, side by side in
-- the script image: /luadb/ has no folders. Two files of one name would be
-- refused there, so they are here.
do
    local nested = io.popen("find " .. sh(run_dir) .. " -mindepth 2 -type f")
    for path in nested:lines() do
        local name = path:match("([^/]+)$")
        local dest = run_dir .. "/" .. name
        if host.kind(dest) then die("two script files are named " .. name .. ": /luadb/ cannot hold both", 2) end
        assert(os.rename(path, dest))
    end
    nested:close()
    os.execute("find " .. sh(run_dir) .. " -mindepth 1 -type d -empty -delete")
end

-- Absolute paths are the module's file system, kept in the device directory;
-- /luadb/ is the running script slot.
local function mapped(fn)
    return function(p, ...) return fn(simdevice.path(p, run_dir), ...) end
end
io.open, io.lines, os.remove = mapped(io.open), mapped(io.lines), mapped(os.remove)
fota.init, fota.file = mapped(fota.init), mapped(fota.file)
local function with_mapped_paths(fn)
    return function(opts)
        if type(opts) == "table" and (opts.path or opts.dst) then
            local copy = {}
            for k, v in pairs(opts) do copy[k] = v end
            copy.path = opts.path and simdevice.path(opts.path, run_dir)
            copy.dst = opts.dst and simdevice.path(opts.dst, run_dir)
            opts = copy
        end
        return fn(opts)
    end
end
for _, name in ipairs({ "download", "request", "verify", "commit" }) do fota[name] = with_mapped_paths(fota[name]) end
local rename = os.rename
os.rename = function(a, b) return rename(simdevice.path(a, run_dir), simdevice.path(b, run_dir)) end
require("ioext").install(io, function(p) return simdevice.path(p, run_dir) end)

-- --uart N=PATH: PATH links to UART N's pseudo-terminal once the script sets it up.
local uart = _G.uart
local announce = uart.announce
function uart.announce(id, path)
    announce(id, path)
    local link = run["uart_" .. id]
    if link then
        os.execute("ln -sfn " .. sh(path) .. " " .. sh(link))   -- a desktop path: not mapped
    end
end

-- The simulated network: down at power-on, up (IP_READY, as a module
-- publishes it) after --net-delay, never with --offline. A transfer started
-- while it is down waits for it, as a module's network layer does, at most
-- the transfer's connect timeout (else its timeout, else 30 s): then -4.
simdevice.set_network(false)
if run.offline == "1" then
    log.info("sim", "offline (--offline): no cellular network, every connection over it fails")
else
    simbus.post(net_delay_ms, function()
        simdevice.set_network(true)
        local socket = _G.socket
        local publish = rawget(_G, "sys_pub") or (rawget(_G, "sys") and _G.sys.publish)
        local id = "IP_READY"
        if air then id = air.ip_ready_id() end   -- nil: the project's own ril publishes it
        if publish and id then publish(id, socket.localIP(socket.LWIP_GP), socket.LWIP_GP) end
    end)
end

-- --wifi SSID[:PASSWORD]: the Wi-Fi networks in range of the station (wlan).
do
    local n = 1
    while run["wifi_" .. n] do
        local net, why = simnet.add_network(run["wifi_" .. n])
        if not net then die("--wifi: " .. why, 2) end
        log.info("sim", string.format("Wi-Fi network %q in range (%s)", net.ssid,
            net.password == "" and "open" or "with a password"))
        n = n + 1
    end
end

-- The pins the outside world drives: DEVICE/gpio.in ("PIN LEVEL" lines a
-- host tool appends), and --gpio's script (first boot only: "PIN@MS=LEVEL",
-- MS after this point). The output pins' levels are kept in DEVICE/gpio.out.
_G.gpio.sim.outputs(device_dir .. "/gpio.out")
_G.gpio.sim.watch(device_dir .. "/gpio.in")
if run.gpio then
    local n, why = _G.gpio.sim.script(run.gpio)
    if not n then die(why, 2) end
end

-- A transfer goes over opts.adapter (http.request's), else the default
-- adapter (socket.dft); one the module does not have fails at once (-4).
local function after_link(start)
    return function(opts)
        if type(opts) ~= "table" or type(opts.url) ~= "string" or
            not opts.url:match("^[Hh][Tt][Tt][Pp][Ss]?://") then
            return start(opts)
        end
        local adapter = math.tointeger(opts.adapter) or require("luatos_socket").dft()
        if opts.adapter ~= nil then
            local copy = {}
            for k, v in pairs(opts) do
                if k ~= "adapter" then copy[k] = v end
            end
            opts = copy
        end
        if not simnet.exists(adapter) then
            return nil, -4, "adapter " .. simnet.name(adapter) .. " does not exist (netdrv.setup)"
        end
        if simnet.up(adapter) then return start(opts) end
        local wait_ms = math.tointeger(opts.connect_timeout) or math.tointeger(opts.timeout) or 0
        if wait_ms <= 0 then wait_ms = 30000 end
        local since, real, failed = host.ms(), nil, nil
        local t = {}
        function t.poll(_, budget)
            if real then return real:poll(budget) end
            if failed then return failed[1], failed[2] end
            if simnet.up(adapter) then
                local code, msg
                real, code, msg = start(opts)
                if real then return real:poll(budget) end
                failed = { code, msg }
            elseif host.ms() - since >= wait_ms then
                failed = { -4, "no network: the link did not come up" }
            else
                host.sleep(math.max(1, math.min(math.tointeger(budget) or 10, wait_ms - (host.ms() - since))))
                return 1
            end
            return failed[1], failed[2]
        end
        function t.status() return real and real:status() or 0 end
        function t.headers() return real and real:headers() or {} end
        function t.body() return real and real:body() or "" end
        function t.progress() if real then return real:progress() end return 0, nil end
        function t.resumed() return real and real:resumed() or 0 end
        function t.close() if real then real:close() end end
        return t
    end
end
fota.download, fota.request = after_link(fota.download), after_link(fota.request)

-- The project's own libraries come first, as on a module: "/" (the file
-- system), then "/luadb/" (the script image), then the firmware's. So a
-- project that ships its own sys.lua or libfota2.lua runs its copy.
package.path = table.concat({ device_dir .. "/fs/?.lua", run_dir .. "/?.lua", lib_path }, ";")
-- Air: Lua 5.1's module() and the Air firmware's additions are in place
-- before the project's own sys.lua (which calls module()) loads.
if air then air.install(function(p) return simdevice.path(p, run_dir) end) end
_G.sys = require "sys"
if not air then _G.sysplus = require "sysplus" end

log.info("sim", string.format("boot %d: %s, device %s, imei %s, core %s, script %s%s",
    boot_no, project, device_dir, profile.imei, profile.core, state.running.version,
    state.trying and (" (new image on trial, " .. state.tries_left .. " boots left)") or ""))

-- A new image on trial is confirmed once its scripts have run for
-- confirm_after_ms (profile, default 3000; 0 = only fota.confirm() does it):
-- a script that dies before then is rolled back after its trial boots.
local confirm_ms = tonumber(profile.confirm_after_ms) or 3000
if state.trying and air and confirm_ms > 0 then
    -- An Air724 keeps the scripts its bootloader applied (LuatOS-Air has no
    -- trial): the image is confirmed once its main.lua reached the message
    -- loop; one that dies before that is still rolled back after its trials.
    -- (--confirm-after 0 still leaves it to fota.confirm().)
    simbus.post(0, function()
        fota.confirm()
        log.info("sim", "new image confirmed: its scripts reached sys.run (an Air module keeps them)")
    end)
elseif state.trying and confirm_ms > 0 then
    local sys, confirm = require "sys", fota.confirm
    local timer = sys.timerStart(function()
        confirm()
        log.info("sim", "new image confirmed after", confirm_ms, "ms without a script error")
    end, confirm_ms)
    fota.confirm = function()
        sys.timerStop(timer)
        return confirm()
    end
end

local function idle()
    log.info("sim", "idle: no timer or message left, the module would wait forever")
    io.stdout:flush()
    os.exit(0, true)
end
simbus.on_idle = idle

-- As luat_main: a main.lua that fails, or ends without entering sys.run,
-- ends the Lua VM, and the module reboots after LuatOS's delay.
local function vm_exit(msg)
    if msg then log.error("main", "Luat:", msg) end
    log.error("main", string.format("Lua VM exit!! reboot in %dms", exit_reboot_delay_ms))
    io.stdout:flush()
    if exit_reboot_delay_ms > 0 then host.sleep(exit_reboot_delay_ms) end
    os.exit(simdevice.VM_EXIT, true)
end

-- Hardware no desktop has: reading one of these globals says so, once, and
-- gives nil as on a module built without it (scripts test `if gpio then`);
-- require of one says so in its "not found" message.
local NOT_SIMULATED = {}
for name in ("i2c adc pwm onewire can lcd lvgl u8g2 eink camera audio ble airlink sdio"
             .. " sensor" .. (air and " wlan" or "")):gmatch("%S+") do NOT_SIMULATED[name] = true end
local told = {}
setmetatable(_G, { __index = function(_, name)
    if NOT_SIMULATED[name] and not told[name] then
        told[name] = true
        log.warn("sim", "module " .. name .. " is hardware this simulator does not provide")
    end
end })
table.insert(package.searchers, function(name)
    if NOT_SIMULATED[name] then return "\n\tmodule '" .. name .. "' is hardware this simulator does not provide" end
end)

local main, lerr = loadfile(run_dir .. "/main.lua")
if not main then vm_exit(lerr) end
local mok, trace = xpcall(main, debug.traceback)
if not mok then vm_exit(trace) end
if not simbus.loop_entered() then vm_exit() end
idle()
