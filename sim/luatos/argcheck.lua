--- argcheck: Lua 5.3's luaL_checkinteger / luaL_optinteger / luaL_optstring
-- for the simulator's Lua stand-ins of LuatOS's C modules, with their
-- messages. An error names the API function as its caller called it
-- ('setup', or a local's name): the frames of these checks, and of a
-- module's own checking functions registered with M.helper, are skipped.
local M = {}
local helpers = {}

--- Registers fn (a module's function that checks arguments) and returns it.
function M.helper(fn)
    helpers[fn] = true
    return fn
end

--- "bad argument #i to 'name' (why)", raised at the API function's caller.
function M.error(i, why)
    local level = 2
    while helpers[debug.getinfo(level, "f").func] do level = level + 1 end
    local info = debug.getinfo(level, "n")
    error(string.format("bad argument #%d to '%s' (%s)", i, info and info.name or "?", why), level + 1)
end

--- Argument i as an integer (a numeric string too); present: it was passed
-- (nil then says "got nil", else "got no value").
function M.int(v, i, present)
    local n = v
    if type(v) == "string" then n = tonumber(v) end
    if math.type(n) == "integer" then return n end
    if math.type(n) == "float" then
        local k = math.tointeger(n)
        if k then return k end
        M.error(i, "number has no integer representation")
    end
    M.error(i, "number expected, got " .. ((v == nil and not present) and "no value" or type(v)))
end

function M.opt_int(v, i, default)
    if v == nil then return default end
    return M.int(v, i, true)
end

--- A string (a number is turned into one), or default for nil.
function M.opt_str(v, i, default)
    if v == nil then return default end
    if type(v) == "number" then return tostring(v) end
    if type(v) ~= "string" then M.error(i, "string expected, got " .. type(v)) end
    return v
end

M.helper(M.error)
M.helper(M.int)
M.helper(M.opt_int)
M.helper(M.opt_str)
return M
