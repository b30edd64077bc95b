--- fskv: LuatOS's persistent key-value store on the desktop.
-- The store lives in the device directory (fota.device(), LUATOS_SIM_DEVICE)
-- under DEVICE/fskv/, outside the file system and the script slots, so it
-- survives reboots and upgrades as the module's fskv flash area does.
--
-- Layout: one file per key, named by the key's bytes in hex (any key is a
-- safe file name). A file is a type byte and the value, as LuatOS stores it:
-- "b" boolean (one byte 0/1), "i" integer (8 bytes, little endian), "f" float
-- (4 bytes, big endian float: a module keeps floats as 32-bit, so 1.1 comes
-- back as 1.1000000238...), "s" string, "t" table (its JSON). Each set
-- replaces the file crash-safe (temp file, sync, rename; fota.host.write),
-- so after a power cut a key holds its old or its new value.
--
-- Bounds as on a module: key 1..63 bytes, type byte + value at most 4096
-- bytes, 64 KiB for all values together; beyond them set returns false.
-- Before fskv.init() every call but init returns nothing, as on a module.
local host = require "fota.host"
local json = require "json"

local fskv = {}

local KEY_MAX, VALUE_MAX, TOTAL = 63, 4096, 64 * 1024

local dir   -- DEVICE/fskv once init has run

local function fname(key)
    return dir .. "/" .. key:gsub(".", function(c) return string.format("%02x", c:byte()) end)
end

local function key_arg(key, fn)
    local t = type(key)
    if t == "number" then return tostring(key) end
    if t ~= "string" then
        error(string.format("bad argument #1 to '%s' (string expected, got %s)", fn, t == "nil" and "no value" or t), 3)
    end
    return key
end

local function valid_key(key) return #key >= 1 and #key <= KEY_MAX end

local function encode(v)
    local t = type(v)
    if t == "boolean" then return "b" .. (v and "\1" or "\0") end
    if math.type(v) == "integer" then return "i" .. string.pack("<i8", v) end
    if t == "number" then return "f" .. string.pack(">f", v) end
    if t == "string" then return "s" .. v end
    if t == "table" then
        local ok, s = pcall(json.encode, v)
        if ok and type(s) == "string" then return "t" .. s end
    end
    return nil
end

local function decode(rec)
    local tag, body = rec:sub(1, 1), rec:sub(2)
    if tag == "b" and #body == 1 then return body ~= "\0" end
    if tag == "i" and #body == 8 then return (string.unpack("<i8", body)) end
    if tag == "f" and #body == 4 then return (string.unpack(">f", body)) end
    if tag == "s" then return body end
    if tag == "t" then return (json.decode(body)) end
    return nil
end

local function names()
    local list = host.listdir(dir) or {}
    local keys = {}
    for _, n in ipairs(list) do
        if #n % 2 == 0 and n:match("^%x+$") then
            keys[#keys + 1] = n:gsub("%x%x", function(x) return string.char(tonumber(x, 16)) end)
        end
    end
    table.sort(keys)
    return keys
end

local function used_bytes(except)
    local used, count = 0, 0
    for _, k in ipairs(names()) do
        if k ~= except then used = used + (host.size(fname(k)) or 0) end
        count = count + 1
    end
    return used, count
end

--- fskv.init() -> true, or false when the store cannot be created.
function fskv.init()
    local fota = require "fota"
    local d = fota.device() .. "/fskv"
    if not host.mkdirs(d) then return false end
    dir = d
    return true
end

--- fskv.set(key, value) -> true, or false (bad type, too big, full).
function fskv.set(key, value)
    key = key_arg(key, "set")
    if not dir then return end
    local rec = encode(value)
    if not rec or #rec > VALUE_MAX or not valid_key(key) then return false end
    if used_bytes(key) + #rec > TOTAL then return false end
    return host.write(fname(key), rec) == true
end

local function load(key)
    if not valid_key(key) then return nil end
    local rec = host.read(fname(key))
    if not rec or #rec < 2 then return nil end   -- LuatOS: fewer than 2 bytes = no key
    return decode(rec)
end

--- fskv.get(key[, skey]) -> the value (nothing when missing or an empty
-- string, as LuatOS's VM); with skey and a table value, value[skey].
function fskv.get(key, skey)
    key = key_arg(key, "get")
    if not dir then return end
    local v = load(key)
    if v == nil then return end
    if skey ~= nil and skey ~= "" and type(v) == "table" then return v[skey] end
    return v
end

--- fskv.sett(key, skey, value) -> set's result; a missing or non-table value
-- becomes a table first (LuatOS).
function fskv.sett(key, skey, ...)
    key = key_arg(key, "sett")
    if type(skey) ~= "string" and type(skey) ~= "number" then
        local got = skey == nil and "no value" or type(skey)
        error("bad argument #2 to 'sett' (string expected, got " .. got .. ")", 2)
    end
    if not dir or select("#", ...) < 1 then return end
    local t = load(key)
    if type(t) ~= "table" then t = {} end
    t[tostring(skey)] = ...
    return fskv.set(key, t)
end

--- fskv.del(key) -> true (a missing key too, as on a module).
function fskv.del(key)
    key = key_arg(key, "del")
    if not dir then return end
    if valid_key(key) then host.remove(fname(key)) end
    return true
end

--- fskv.clear() -> true when every key is gone.
function fskv.clear()
    if not dir then return end
    local ok = true
    for _, k in ipairs(names()) do
        ok = host.remove(fname(k)) == true and ok
    end
    return ok
end

--- fskv.status() -> used bytes, total bytes, number of keys.
function fskv.status()
    if not dir then return end
    local used, count = used_bytes()
    return used, TOTAL, count
end

--- fskv.iter() -> an iterator for fskv.next (the keys at this moment, sorted).
function fskv.iter()
    if not dir then return end
    return { keys = names(), i = 0 }
end

--- fskv.next(iter) -> the next key, or nil at the end.
function fskv.next(it)
    if type(it) ~= "table" or type(it.keys) ~= "table" then
        error("bad argument #1 to 'next' (fskv.iter() expected)", 2)
    end
    it.i = it.i + 1
    return it.keys[it.i]
end

-- LuatOS's other names, and the fdb-compatible ones.
fskv.clr, fskv.stat = fskv.clear, fskv.status
fskv.kvdb_init, fskv.kv_set, fskv.kv_get, fskv.kv_del = fskv.init, fskv.set, fskv.get, fskv.del
fskv.kv_clr, fskv.kv_stat, fskv.kv_iter, fskv.kv_next = fskv.clear, fskv.status, fskv.iter, fskv.next

return fskv
