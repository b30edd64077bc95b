--- ioext: LuatOS's extensions of the io library on the desktop: io.exists,
-- io.dexist, io.fileSize, io.readFile, io.writeFile, io.mkdir, io.rmdir,
-- io.lsdir, io.FILE, io.DIR, with LuatOS's return shapes.
--
--     require("ioext").install(io, map)
--
-- installs them into the table io; map(path) turns a module path into a
-- host path (the simulator hands over its mapping: "/x" is DEVICE/fs/x,
-- "/luadb/x" the running script). Without map, paths are used as given.
-- They are built on fota.host (the port layer's files), not on io.open, so
-- they map a path exactly once whether or not io.open is wrapped too.
-- writeFile without an append mode replaces the file crash-safe (temp file,
-- sync, rename): stricter than a module, never weaker.
local host = require "fota.host"

local M = {}

-- littlefs's codes, which a module's io.mkdir/rmdir/lsdir return.
M.ERR_NOENT, M.ERR_EXIST, M.ERR_NOTDIR, M.ERR_NOTEMPTY = -2, -17, -20, -39

local function path_arg(p, fn)
    if type(p) == "number" then return tostring(p) end
    if type(p) ~= "string" then
        error(string.format("bad argument #1 to '%s' (string expected, got %s)", fn,
            p == nil and "no value" or type(p)), 4)
    end
    if p:find("\0", 1, true) then error(string.format("bad argument #1 to '%s' (path with NUL)", fn), 4) end
    return p
end

local function int_arg(v, i, fn, default)
    if v == nil then return default end
    if math.type(v) ~= "integer" then
        error(string.format("bad argument #%d to '%s' (number has no integer representation)", i, fn), 3)
    end
    return v
end

-- "/data/" and "/data" name the same directory.
local function trim(p)
    return #p > 1 and p:gsub("/+$", "") or p
end

local function parent(p)
    return p:match("^(.*)/[^/]*$") or "."
end

--- Installs the extensions into iolib (usually io); map: module path -> host path.
function M.install(iolib, map)
    map = map or function(p) return p end
    local function where(p, fn) return map(path_arg(p, fn)) end

    iolib.FILE, iolib.DIR = 0, 1

    --- io.exists(path) -> true when a file is there
    function iolib.exists(p)
        local h = where(p, "exists")
        return h ~= "" and host.kind(h) == "file"
    end

    --- io.dexist(path) -> true when a directory is there
    function iolib.dexist(p)
        local h = where(p, "dexist")
        return h ~= "" and host.kind(trim(h)) == "dir"
    end

    --- io.fileSize(path) -> bytes, 0 when there is no file (LuatOS)
    function iolib.fileSize(p)
        local h = where(p, "fileSize")
        return h ~= "" and host.kind(h) == "file" and host.size(h) or 0
    end

    --- io.readFile(path[, mode, offset, len]) -> the bytes, nothing when there is no file
    function iolib.readFile(p, mode, offset, len)
        local h = where(p, "readFile")
        if mode ~= nil and type(mode) ~= "string" then
            error("bad argument #2 to 'readFile' (string expected, got " .. type(mode) .. ")", 2)
        end
        offset = int_arg(offset, 3, "readFile", 0)
        len = int_arg(len, 4, "readFile", 1 << 30)
        if h == "" or host.kind(h) ~= "file" then return end
        if offset < 0 then offset = 0 end
        if len <= 0 then return "" end
        local data = host.read(h, offset, len)
        if data then return data end
    end

    --- io.writeFile(path, data[, mode]) -> true, nothing when it cannot be written.
    -- mode "w..." (default "wb+") replaces the file, "a..." appends.
    function iolib.writeFile(p, data, mode)
        local h = where(p, "writeFile")
        if type(data) == "number" then data = tostring(data) end
        if type(data) ~= "string" then
            error("bad argument #2 to 'writeFile' (string expected, got "
                .. (data == nil and "no value" or type(data)) .. ")", 2)
        end
        mode = mode == nil and "wb+" or mode
        if type(mode) ~= "string" then
            error("bad argument #3 to 'writeFile' (string expected, got " .. type(mode) .. ")", 2)
        end
        local kind = mode:match("^([wa])b?%+?$") or mode:match("^([wa])%+b$")
        if not kind or h == "" or host.kind(parent(h)) ~= "dir" or host.kind(h) == "dir" then return end
        if host.write(h, data, kind == "a") then return true end
    end

    --- io.mkdir(path) -> ok, code (one level, as littlefs: the parent must exist)
    function iolib.mkdir(p)
        local h = trim(where(p, "mkdir"))
        if h == "" then return false, M.ERR_NOENT end
        if host.kind(h) then return false, M.ERR_EXIST end
        local up = host.kind(parent(h))
        if up ~= "dir" then return false, up and M.ERR_NOTDIR or M.ERR_NOENT end
        if not host.mkdirs(h) then return false, M.ERR_NOENT end
        return true, 0
    end

    --- io.rmdir(path) -> ok, code (an empty directory)
    function iolib.rmdir(p)
        local h = trim(where(p, "rmdir"))
        local kind = h ~= "" and host.kind(h)
        if not kind then return false, M.ERR_NOENT end
        if kind ~= "dir" then return false, M.ERR_NOTDIR end
        local list = host.listdir(h)
        if list and #list > 0 then return false, M.ERR_NOTEMPTY end
        if not host.rmdir(h) then return false, M.ERR_NOENT end
        return true, 0
    end

    --- io.lsdir(path[, len, offset]) -> true, { {name=, type=io.FILE|io.DIR, size=}, ... }
    -- or false, code. len defaults to 10 (at most 100), names sorted.
    function iolib.lsdir(p, len, offset)
        local h = trim(where(p, "lsdir"))
        len = int_arg(len, 2, "lsdir", 10)
        offset = int_arg(offset, 3, "lsdir", 0)
        if len < 0 then len = 10 elseif len > 100 then len = 100 end
        if offset < 0 then offset = 0 end
        local kind = h ~= "" and host.kind(h)
        if kind ~= "dir" then return false, kind and M.ERR_NOTDIR or M.ERR_NOENT end
        local names = host.listdir(h)
        if not names then return false, M.ERR_NOENT end
        table.sort(names)
        local out = {}
        for i = offset + 1, math.min(#names, offset + len) do
            local full = h .. "/" .. names[i]
            local isdir = host.kind(full) == "dir"
            out[#out + 1] = { name = names[i], type = isdir and 1 or 0, size = isdir and 0 or host.size(full) or 0 }
        end
        return true, out
    end
    return iolib
end

return M
