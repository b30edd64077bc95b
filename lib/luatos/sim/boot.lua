--- One boot of a simulated module. Like a module's bootloader it reads the
-- boot record (rolling back an unconfirmed or damaged upgrade, applying a
-- staged package), then runs the scripts of the active slot with LuatOS's
-- globals, until rtos.reboot() or until nothing is left to run.
-- A device never flashed gets PROJECT's files and a factory core first.
-- Started by bin/luatos-sim: lua5.3 boot.lua ROOT PROJECT DEVICE BOOT_NO [key=value...]
local root, project, device_dir, boot_no = ...
boot_no = tonumber(boot_no) or 1

local run_dir = device_dir .. "/run"
package.path = table.concat({ run_dir .. "/?.lua", root .. "/lib/?.lua", root .. "/lib/luatos/?.lua",
                              package.path }, ";")
-- FOTA_BUILD picks another build of the C module (the sanitizer build).
local build = os.getenv("FOTA_BUILD") or (root .. "/build")
package.cpath = table.concat({ build .. "/?.so", package.cpath }, ";")

local options = {}
for i = 5, select("#", ...) do
    local k, v = select(i, ...):match("^(%w+)=(.*)$")
    if k then options[k] = v end
end
local reflash = options.flash
options.flash = nil

local simdevice = require "simdevice"
local profile = simdevice.open(device_dir, options)

_G.log = require "log"
_G.rtos = require "rtos"
_G.mobile = require "mobile"
_G.mcu = require "mcu"
_G.json = require "json"
local fota = require "fota"
_G.fota = fota
_G.zbuff = require "fota.zbuff"
_G.http = require "http"
fota.device(device_dir)
require "strext"

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

if reflash then os.execute("rm -rf " .. sh(device_dir .. "/slots")) end
local state, err = fota.boot()
if not state and err == "unflashed" then
    flash()
    state, err = fota.boot()
end
if not state then die("boot failed: " .. tostring(err) .. " (no valid image in any slot)", 3) end
if state.last_result == "rolled_back" and state.rollback_reason ~= "none" then
    log.warn("sim", "rolled back to the previous image:", state.rollback_reason)
end
if state.applied_staged then log.info("sim", "staged package applied at boot:", state.applied_staged) end

-- The running core is what the boot record says, whatever the profile held.
profile.core = state.running.core
os.execute("rm -rf " .. sh(run_dir))
local ok, xerr = fota.extract(state.running.script_path, run_dir)
if not ok then die("cannot unpack the script slot: " .. tostring(xerr), 3) end

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

log.info("sim", string.format("boot %d: %s, device %s, imei %s, core %s, script %s%s",
    boot_no, project, device_dir, profile.imei, profile.core, state.running.version,
    state.trying and (" (new image on trial, " .. state.tries_left .. " boots left)") or ""))

-- A new image on trial is confirmed once its scripts have run for
-- confirm_after_ms (profile, default 3000; 0 = only fota.confirm() does it):
-- a script that dies before then is rolled back after its trial boots.
local confirm_ms = tonumber(profile.confirm_after_ms) or 3000
if state.trying and confirm_ms > 0 then
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

local main, lerr = loadfile(run_dir .. "/main.lua")
if not main then die(lerr) end
local mok, trace = xpcall(main, debug.traceback)
if not mok then die("script error: " .. tostring(trace)) end
log.info("sim", "idle: no timer or message left, the module would wait forever")
os.exit(0)
