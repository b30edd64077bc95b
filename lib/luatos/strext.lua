--- strext: LuatOS's string extensions that FOTA scripts use, installed into
-- the string table on require (string.toHex, string.fromHex).
function string.toHex(s, sep)
    sep = sep or ""
    local hex = s:gsub(".", function(c) return string.format("%02X", c:byte()) .. sep end)
    return hex, #s
end

function string.fromHex(h)
    return (h:gsub("[^%x]", ""):gsub("%x%x", function(x) return string.char(tonumber(x, 16)) end))
end

return string
