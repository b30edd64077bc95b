-- Shared helpers for the specs.
local M = {}

M.build = os.getenv("FOTA_BUILD") or "build"

--- A fresh empty directory for one test.
function M.tmpdir(name)
    local dir = "/tmp/luat-fota-test/" .. name .. "-" .. tostring(os.time()) .. "-" .. math.random(1, 1e9)
    assert(os.execute("rm -rf '" .. dir .. "' && mkdir -p '" .. dir .. "'"))
    return dir
end

function M.read(path)
    local f = io.open(path, "rb")
    if not f then return nil end
    local s = f:read("a")
    f:close()
    return s
end

function M.write(path, data)
    local f = assert(io.open(path, "wb"))
    f:write(data)
    f:close()
end

--- Run a shell command; returns its output and exit status.
function M.run(cmd)
    local p = assert(io.popen(cmd .. " 2>&1; echo \"__status=$?\""))
    local out = p:read("a")
    p:close()
    local status = tonumber(out:match("__status=(%d+)%s*$"))
    return out:gsub("__status=%d+%s*$", ""), status
end

--- A fresh copy of a Lua module (sys keeps its timers in the module).
function M.fresh(name)
    package.loaded[name] = nil
    return require(name)
end

--- Bytes of a minimal staged "package": the 12-byte prefix then filler.
function M.pkg_bytes(total)
    return "LFPK" .. string.pack("<I2I2I4", 1, 0, total) .. string.rep("\xA5", total - 12)
end

return M
