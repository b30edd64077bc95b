--- simdevice: the simulated module behind rtos, mobile and mcu.
-- A device is a directory; its identity (IMEI, bsp, core version, ...) is a
-- profile kept in DIR/profile.lua, written on first use, so it stays the
-- same across reboots and runs.
local M = {}

M.REBOOT_EXIT = 75     -- exit status that asks bin/luatos-sim to boot again
M.POWERCUT_EXIT = 76   -- the port's injected power cut (LUAT_FOTA_POWERCUT): boot again
M.VM_EXIT = 77         -- the Lua VM ended (script error, or main.lua ended without sys.run): boot again

local current_dir, current

--- s quoted for a POSIX shell.
function M.sh(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function fnv1a64(s)
    local h = -3750763034362895579     -- 0xcbf29ce484222325 as a signed integer
    for i = 1, #s do
        h = (h ~ s:byte(i)) * 1099511628211
    end
    return h
end

--- Luhn check digit for a string of digits.
function M.luhn_digit(body)
    local sum = 0
    for i = #body, 1, -1 do
        local d = tonumber(body:sub(i, i))
        if (#body - i) % 2 == 0 then
            d = d * 2
            if d > 9 then d = d - 9 end
        end
        sum = sum + d
    end
    return tostring((10 - sum % 10) % 10)
end

function M.luhn_valid(digits)
    return #digits > 1 and digits:match("^%d+$") ~= nil
        and M.luhn_digit(digits:sub(1, -2)) == digits:sub(-1)
end

--- A stable, Luhn-valid 15-digit IMEI derived from a device name.
function M.imei_for(name)
    local body = string.format("86%012d", fnv1a64(name) % 1000000000000)
    return body .. M.luhn_digit(body)
end

local function basename(p)
    return (p:gsub("/+$", ""):match("([^/]+)$")) or p
end

local function write_profile(path, p)
    local keys = {}
    for k in pairs(p) do keys[#keys + 1] = k end
    table.sort(keys)
    local lines = { "-- simulated device profile (edit to change the device's identity)", "return {" }
    for _, k in ipairs(keys) do
        lines[#lines + 1] = string.format("    %s = %q,", k, p[k])
    end
    lines[#lines + 1] = "}\n"
    local tmp = path .. ".tmp"
    local f = assert(io.open(tmp, "w"))
    f:write(table.concat(lines, "\n"))
    f:close()
    assert(os.rename(tmp, path))
end

--- Open (creating if needed) the device at dir. defaults fills a new
-- profile's fields; an existing profile keeps its own.
function M.open(dir, defaults)
    assert(type(dir) == "string" and dir ~= "", "simdevice.open: directory expected")
    os.execute("mkdir -p " .. M.sh(dir .. "/fs"))
    local path = dir .. "/profile.lua"
    local profile
    local chunk = loadfile(path, "t", {})
    if chunk then
        local ok, p = pcall(chunk)
        if not ok or type(p) ~= "table" then error("bad device profile " .. path .. ": " .. tostring(p)) end
        profile = p
    end
    local dirty = not profile
    profile = profile or {}
    local name = basename(dir)
    local base = {
        imei = M.imei_for(name), bsp = "EC618", core = "V1103", model = "Air780E",
        uid = string.format("%016X", fnv1a64("uid:" .. name)),
    }
    for k, v in pairs(defaults or {}) do base[k] = v end
    for k, v in pairs(base) do
        if profile[k] == nil then profile[k], dirty = v, true end
    end
    if not M.luhn_valid(profile.imei) or #profile.imei ~= 15 then
        error("device profile " .. path .. ": imei " .. profile.imei .. " is not 15 Luhn-valid digits")
    end
    if not tostring(profile.core):match("^V%d+$") then
        error("device profile " .. path .. ": core must look like V1103, got " .. tostring(profile.core))
    end
    if dirty then write_profile(path, profile) end
    current_dir, current = dir, profile
    return profile
end

function M.dir() return current_dir end

-- Mounted volumes (an SD card, fatfs.mount): module mount point -> host directory.
local mounts = {}

--- Mounts the host directory dir at the module path point ("/sd"), or
-- unmounts point when dir is nil.
function M.mount(point, dir)
    point = point:gsub("/+$", "")
    if point == "" then error("simdevice.mount: cannot mount over /", 2) end
    mounts[point] = dir
end

--- The host directory mounted at point, or nil.
function M.mounted(point) return mounts[(point:gsub("/+$", ""))] end

--- Where a module path lives on the desktop: "/luadb/x" is the project's
-- script x (read only on a module), a path under a mount point (fatfs.mount)
-- is in the mounted host directory, any other absolute path is under the
-- device's file system DIR/fs; relative paths are left alone.
function M.path(p, project)
    if type(p) ~= "string" or p:sub(1, 1) ~= "/" then return p end
    local rest = p:match("^/luadb/(.*)$")
    if rest and project then return project .. "/" .. rest end
    local best
    for point in pairs(mounts) do
        if (p == point or p:sub(1, #point + 1) == point .. "/") and (not best or #point > #best) then best = point end
    end
    if best then return mounts[best] .. p:sub(#best + 1) end
    M.profile()
    return current_dir .. "/fs" .. p
end

--- The open device's profile; opens the default device when none is.
function M.profile()
    if not current then M.open(os.getenv("LUATOS_SIM_DEVICE") or ".luatos-device") end
    return current
end

--- Deterministic pseudo-random bytes (incompressible, like machine code).
function M.noise(n, seed)
    local x, out = seed or 12345, {}
    for i = 1, n // 4 do
        x = (x * 1103515245 + 12345) & 0x7fffffff
        out[i] = string.pack("<I4", x)
    end
    return table.concat(out) .. string.rep("\0", n % 4)
end

--- The factory core image of a simulated module for a core version: 96 KiB
-- that differ between versions in a few blocks, as two builds of one
-- firmware do (so a delta between them is small).
function M.core_image(core)
    local v = assert(tonumber(tostring(core):match("^V?(%d+)$")), "core version like V1103 expected")
    local blocks = {}
    for k = 0, 23 do
        blocks[#blocks + 1] = M.noise(4096, (k * 7 + v) % 8 == 0 and (k + 1) * v or k + 1)
    end
    local image = table.concat(blocks)
    return "LuatOS-SoC core V" .. v .. "\n" .. image:sub(19 + #tostring(v))
end

--- The simulated cellular link: up unless the boot says otherwise (it is
-- down from power-on until IP_READY, and for good with --offline).
local link_up = true
function M.network_up() return link_up end
function M.set_network(up) link_up = up and true or false end

--- Ask for a restart: bin/luatos-sim boots the project again.
function M.reboot()
    io.stdout:flush()
    os.exit(M.REBOOT_EXIT, true)
end

return M
