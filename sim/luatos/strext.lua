--- strext: LuatOS's string extensions, installed into the string table on
-- require: toHex, fromHex, split, startsWith, endsWith, trim, toValue,
-- toBase64, fromBase64 (the last two are fota.crypto's base64, as on a
-- module, where they are the same functions as crypto.base64_*).
local crypto = require "fota.crypto"

local function str_arg(v, i, fn)
    if type(v) == "number" then return tostring(v) end
    if type(v) ~= "string" then
        error(string.format("bad argument #%d to '%s' (string expected, got %s)", i, fn,
            v == nil and "no value" or type(v)), 3)
    end
    return v
end

function string.toHex(s, sep)
    sep = sep or ""
    local hex = s:gsub(".", function(c) return string.format("%02X", c:byte()) .. sep end)
    return hex, #s * 2   -- LuatOS gives the number of hex digits (separators not counted)
end

--- As LuatOS: pairs of hex digits; any other character drops a pending
-- half byte ("4a 4b" -> "JK", "616" -> "a").
function string.fromHex(h)
    local out = {}
    for run in h:gmatch("%x+") do
        if #run % 2 == 1 then run = run:sub(1, -2) end
        out[#out + 1] = run:gsub("%x%x", function(x) return string.char(tonumber(x, 16)) end)
    end
    return (table.concat(out))
end

--- string.split(s[, sep[, keepEmpty]]) -> { pieces }. sep is plain text
-- (default ","; "" means ","); empty pieces are dropped unless keepEmpty is
-- true, as LuatOS does ("/a//b/" keeps "", "a", "", "b", "").
function string.split(s, sep, keepEmpty)
    s = str_arg(s, 1, "split")
    sep = sep == nil and "," or str_arg(sep, 2, "split")
    if sep == "" then sep = "," end
    local keep = keepEmpty == true
    local out, pos = {}, 1
    if s == "" then return out end
    while true do
        local a, b = s:find(sep, pos, true)
        local piece = s:sub(pos, (a or #s + 1) - 1)
        if piece ~= "" or keep then out[#out + 1] = piece end
        if not a then break end
        pos = b + 1
    end
    return out
end

function string.startsWith(s, prefix)
    s, prefix = str_arg(s, 1, "startsWith"), str_arg(prefix, 2, "startsWith")
    return s:sub(1, #prefix) == prefix
end

function string.endsWith(s, suffix)
    s, suffix = str_arg(s, 1, "endsWith"), str_arg(suffix, 2, "endsWith")
    return suffix == "" or s:sub(-#suffix) == suffix
end

--- string.trim(s[, ltrim[, rtrim]]): strips spaces, tabs, CR and LF (both
-- ends by default).
function string.trim(s, ltrim, rtrim)
    s = str_arg(s, 1, "trim")
    if ltrim ~= false then s = s:gsub("^[ \t\r\n]+", "") end
    if rtrim ~= false then s = s:gsub("[ \t\r\n]+$", "") end
    return s
end

--- string.toValue(s) -> each character's digit value as a byte ("12ab" ->
-- "\1\2\10\11"), and the count, as LuatOS computes it.
function string.toValue(s)
    s = str_arg(s, 1, "toValue")
    return (s:gsub(".", function(c)
        local b = c:byte()
        return string.char(((b > 57 and b + 9 or b) & 0x0f))
    end)), #s
end

string.toBase64, string.fromBase64 = crypto.base64_encode, crypto.base64_decode

return string
