--- version: strict "x.y.z" versions (digits only, any number of them).
-- Parts stay strings so that no length of digits overflows.
local M = {}

--- x, y, z as digit strings, or nil and a reason.
function M.parse(v)
    if type(v) ~= "string" then return nil, "version must be a string, got " .. type(v) end
    local x, y, z = v:match("^(%d+)%.(%d+)%.(%d+)$")
    if not x then return nil, "version must be x.y.z with digits only, got '" .. v .. "'" end
    return x, y, z
end

function M.valid(v) return M.parse(v) ~= nil end

local function cmp_digits(a, b)
    a, b = a:gsub("^0+", ""), b:gsub("^0+", "")
    if #a ~= #b then return #a < #b and -1 or 1 end
    if a == b then return 0 end
    return a < b and -1 or 1
end

--- -1, 0 or 1; raises on a malformed version.
function M.compare(a, b)
    local pa, pb = { M.parse(a) }, { M.parse(b) }
    if not pa[1] then error(pa[2], 2) end
    if not pb[1] then error(pb[2], 2) end
    for i = 1, 3 do
        local c = cmp_digits(pa[i], pb[i])
        if c ~= 0 then return c end
    end
    return 0
end

--- The core's number: "V1103" -> "1103".
function M.core_number(core)
    local n = type(core) == "string" and core:match("^[Vv]?(%d+)$")
    if not n then return nil, "core version must look like V1103, got " .. tostring(core) end
    return n
end

--- The version the IoT platform expects: CORE.x.z (y is not sent).
function M.iot(core, v)
    local n, err = M.core_number(core)
    if not n then return nil, err end
    local x, _, z = M.parse(v)
    if not x then return nil, _ end
    return n .. "." .. x .. "." .. z
end

return M
