--- One boot of a simulated module: set up the LuatOS globals for the device,
-- run the project's main.lua, leave through rtos.reboot() or when idle.
-- Started by bin/luatos-sim: lua5.3 boot.lua ROOT PROJECT DEVICE BOOT_NO [key=value...]
local root, project, device_dir, boot_no = ...
boot_no = tonumber(boot_no) or 1

package.path = table.concat({ project .. "/?.lua", root .. "/lib/?.lua", package.path }, ";")
-- FOTA_BUILD picks another build of the C module (the sanitizer build).
local build = os.getenv("FOTA_BUILD") or (root .. "/build")
package.cpath = table.concat({ build .. "/?.so", package.cpath }, ";")

local defaults = {}
for i = 5, select("#", ...) do
    local k, v = select(i, ...):match("^(%w+)=(.*)$")
    if k then defaults[k] = v end
end

local simdevice = require "simdevice"
local profile = simdevice.open(device_dir, defaults)

_G.log = require "log"
_G.rtos = require "rtos"
_G.mobile = require "mobile"
_G.mcu = require "mcu"
_G.json = require "json"
local fota = require "fota"
_G.fota = fota
fota.device(device_dir)

-- Absolute paths are the module's file system, kept in the device directory.
local function mapped(fn)
    return function(p, ...) return fn(simdevice.path(p, project), ...) end
end
io.open, io.lines, os.remove = mapped(io.open), mapped(io.lines), mapped(os.remove)
fota.init, fota.file = mapped(fota.init), mapped(fota.file)
local download = fota.download
fota.download = function(opts)
    if type(opts) == "table" and opts.path then
        local copy = {}
        for k, v in pairs(opts) do copy[k] = v end
        copy.path = simdevice.path(opts.path, project)
        opts = copy
    end
    return download(opts)
end
local rename = os.rename
os.rename = function(a, b) return rename(simdevice.path(a, project), simdevice.path(b, project)) end

require "strext"

log.info("sim", string.format("boot %d: %s, device %s, imei %s, core %s",
    boot_no, project, device_dir, profile.imei, profile.core))

local main, err = loadfile(project .. "/main.lua")
if not main then
    io.stderr:write("luatos-sim: ", err, "\n")
    os.exit(1)
end
local ok, trace = xpcall(main, debug.traceback)
if not ok then
    io.stderr:write("luatos-sim: script error: ", tostring(trace), "\n")
    os.exit(1)
end
log.info("sim", "idle: no timer or message left, the module would wait forever")
os.exit(0)
