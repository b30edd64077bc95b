--- common for LuatOS-Air projects: the text conversions of Air's common
-- library between UTF-8 and UCS-2 (big or little endian), on utf8.
local common = {}

local function from_ucs2(s, fmt)
    if type(s) ~= "string" then error("bad argument #1 (string expected, got " .. type(s) .. ")", 3) end
    local out = {}
    for i = 1, #s - 1, 2 do
        local cp = string.unpack(fmt, s, i)
        -- a surrogate alone is not a character: U+FFFD, as a decoder does
        out[#out + 1] = utf8.char((cp >= 0xD800 and cp <= 0xDFFF) and 0xFFFD or cp)
    end
    return table.concat(out)
end

local function to_ucs2(s, fmt)
    if type(s) ~= "string" then error("bad argument #1 (string expected, got " .. type(s) .. ")", 3) end
    local out = {}
    local ok, err = pcall(function()
        for _, cp in utf8.codes(s) do
            out[#out + 1] = string.pack(fmt, cp > 0xFFFF and 0xFFFD or cp)
        end
    end)
    if not ok then error("invalid UTF-8: " .. tostring(err), 3) end
    return table.concat(out)
end

--- UCS-2 big endian bytes -> UTF-8 (an odd last byte is dropped).
function common.ucs2beToUtf8(s) return from_ucs2(s, ">I2") end
--- UCS-2 little endian bytes -> UTF-8.
function common.ucs2ToUtf8(s) return from_ucs2(s, "<I2") end
--- UTF-8 -> UCS-2 big endian (characters beyond U+FFFF become U+FFFD).
function common.utf8ToUcs2be(s) return to_ucs2(s, ">I2") end
--- UTF-8 -> UCS-2 little endian.
function common.utf8ToUcs2(s) return to_ucs2(s, "<I2") end

_G.common = common
return common
