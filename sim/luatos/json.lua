--- json: LuatOS's json module (its lua-cjson) on the desktop, as LuatOS's VM behaves
-- (test/golden/json pins it against LuatOS's own output):
--   json.encode(v[, fmt]) -> text, or nil, message. Floats with "%.7f" (fmt "12f", "%.3g", ...
--     picks another precision / mode; a bad fmt gives nil, "invalid float format"), a float within
--     the epsilon of 0 is "0", integers as they are; a table whose keys are all integers >= 1 is an
--     array (holes are null; more than 10 slots and over half of them holes is an error), any other
--     table an object, an empty one "{}"; json.null is null; json.encode(nil) is "".
--     Strings escape " \ and the control characters (\b \f \n \r \t, else \u00xx) and DEL; "/" stays.
--   json.decode(text) -> value, 1, or nil, false, message. Strict: no trailing comma, no comment, the
--     whole text one value; null is json.null; a number with a "." (or "0") is a float or 0,
--     others are integers read up to the first non-digit (so "1e3" is an error, as on LuatOS).
local json = {}

--- LuatOS's json.null is a NULL light userdata; here a unique sentinel.
json.null = setmetatable({}, { __tostring = function() return "null" end, __name = "json.null" })

local MAX_DEPTH = 1000
local ESC = { ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f", ["\n"] = "\\n", ["\r"] = "\\r",
    ["\t"] = "\\t" }

local function escape(s)
    return '"' .. s:gsub('[%c"\\\127]', function(c)
        return ESC[c] or string.format("\\u%04x", c:byte())
    end) .. '"'
end

local function fail(kind, reason) error({ msg = "Cannot serialise " .. kind .. ": " .. reason }, 0) end

local function number(v, fmt)
    if math.type(v) == "integer" then return string.format("%d", v) end
    if v ~= v or v == math.huge or v == -math.huge then return string.format(fmt, v) end
    if v <= 2.220446049250313e-16 and v >= -2.220446049250313e-16 then return "0" end
    return string.format(fmt, v)
end

-- The array length of t, or -1 for an object (the rule of LuatOS's cjson).
local function array_length(t)
    local max, items = 0, 0
    for k in pairs(t) do
        if type(k) == "number" and k >= 1 and math.floor(k) == k then
            if k > max then max = k end
            items = items + 1
        else
            return -1
        end
    end
    if max > items * 2 and max > 10 then fail("table", "excessively sparse array") end
    return math.tointeger(max) or max
end

local encode_value

local function encode_table(t, fmt, depth, out)
    if depth > MAX_DEPTH then fail("table", "excessive nesting") end
    local n = array_length(t)
    if n > 0 then
        out[#out + 1] = "["
        for i = 1, n do
            if i > 1 then out[#out + 1] = "," end
            encode_value(t[i], fmt, depth, out)
        end
        out[#out + 1] = "]"
        return
    end
    out[#out + 1] = "{"
    local first = true
    for k, v in pairs(t) do
        local key
        if type(k) == "string" then key = escape(k)
        elseif type(k) == "number" then key = '"' .. number(k, fmt) .. '"'
        else fail("table", "table key must be a number or string") end
        if not first then out[#out + 1] = "," end
        first = false
        out[#out + 1] = key
        out[#out + 1] = ":"
        encode_value(v, fmt, depth, out)
    end
    out[#out + 1] = "}"
end

function encode_value(v, fmt, depth, out)
    local t = type(v)
    if v == json.null or v == nil then out[#out + 1] = "null"
    elseif t == "string" then out[#out + 1] = escape(v)
    elseif t == "number" then out[#out + 1] = number(v, fmt)
    elseif t == "boolean" then out[#out + 1] = v and "true" or "false"
    elseif t == "table" then encode_table(v, fmt, depth + 1, out)
    else fail(t, "type not supported") end
end

function json.encode(v, mode)
    if v == nil then return "" end
    local fmt = "%.7f"
    if type(mode) == "string" or type(mode) == "number" then
        mode = tostring(mode)
        local digits, kind = mode:match("^%%%.(%d%d?%d?)([fg])$")
        if not digits then digits, kind = mode:match("^(%d%d?%d?)([fg])$") end
        if not digits then return nil, "invalid float format" end
        fmt = "%." .. digits .. kind
    end
    local out = {}
    local ok, err = pcall(encode_value, v, fmt, 0, out)
    if not ok then
        if type(err) == "table" then return nil, err.msg end
        error(err, 0)
    end
    return table.concat(out)
end

-- Decoding ---------------------------------------------------------------

local function decode_error(s, pos, what)
    error({ msg = string.format("Expected %s but found %s at character %d", what,
        pos > #s and "T_END" or ("'" .. s:sub(pos, pos) .. "'"), pos) }, 0)
end

local function skip(s, pos) return s:find("[^ \t\n\r]", pos) or #s + 1 end

local function utf8_of(cp)
    return utf8.char(cp)
end

local function decode_string(s, pos)
    -- pos is at the opening quote
    local out, i = {}, pos + 1
    while true do
        local j = s:find('["\\]', i)
        if not j then error({ msg = "Expected string end but found T_END at character " .. pos }, 0) end
        out[#out + 1] = s:sub(i, j - 1)
        if s:sub(j, j) == '"' then return table.concat(out), j + 1 end
        local e = s:sub(j + 1, j + 1)
        local simple = ({ ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n", r = "\r",
            t = "\t" })[e]
        if simple then
            out[#out + 1] = simple
            i = j + 2
        elseif e == "u" then
            local hex = s:match("^%x%x%x%x", j + 2)
            if not hex then error({ msg = "invalid unicode escape code at character " .. j }, 0) end
            local cp = tonumber(hex, 16)
            i = j + 6
            if cp >= 0xD800 and cp <= 0xDBFF then
                local lo = s:match("^\\u(%x%x%x%x)", i)
                lo = lo and tonumber(lo, 16)
                if not lo or lo < 0xDC00 or lo > 0xDFFF then
                    error({ msg = "invalid unicode escape code at character " .. j }, 0)
                end
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)
                i = i + 6
            elseif cp >= 0xDC00 and cp <= 0xDFFF then
                error({ msg = "invalid unicode escape code at character " .. j }, 0)
            end
            out[#out + 1] = utf8_of(cp)
        else
            error({ msg = "invalid escape code at character " .. j }, 0)
        end
    end
end

-- LuatOS's numbers: with a "." a float (strtod, exponent included); without, the integer
-- digits only ("0" is 0, another zero a float); what follows is the next token.
local function decode_number(s, pos)
    local float = s:match("^%-?%d+%.%d*[eE][%+%-]?%d+", pos) or s:match("^%-?%d+%.%d*", pos)
    if float then return tonumber(float) + 0.0, pos + #float end
    local int = s:match("^%-?%d+", pos)
    if not int then decode_error(s, pos, "a number") end
    local v = math.tointeger(tonumber(int)) or tonumber(int)
    if v == 0 and int ~= "0" then v = tonumber(int .. ".0") end   -- strtod: "-0" is -0.0
    return v, pos + #int
end

local decode_value

local function decode_array(s, pos, depth)
    local t, n = {}, 0
    pos = skip(s, pos + 1)
    if s:sub(pos, pos) == "]" then return t, pos + 1 end
    while true do
        local v
        v, pos = decode_value(s, pos, depth)
        n = n + 1
        t[n] = v
        pos = skip(s, pos)
        local c = s:sub(pos, pos)
        if c == "]" then return t, pos + 1 end
        if c ~= "," then decode_error(s, pos, "comma or array end") end
        pos = skip(s, pos + 1)
    end
end

local function decode_object(s, pos, depth)
    local t = {}
    pos = skip(s, pos + 1)
    if s:sub(pos, pos) == "}" then return t, pos + 1 end
    while true do
        if s:sub(pos, pos) ~= '"' then decode_error(s, pos, "object key string") end
        local k
        k, pos = decode_string(s, pos)
        pos = skip(s, pos)
        if s:sub(pos, pos) ~= ":" then decode_error(s, pos, "colon") end
        local v
        v, pos = decode_value(s, skip(s, pos + 1), depth)
        t[k] = v
        pos = skip(s, pos)
        local c = s:sub(pos, pos)
        if c == "}" then return t, pos + 1 end
        if c ~= "," then decode_error(s, pos, "comma or object end") end
        pos = skip(s, pos + 1)
    end
end

function decode_value(s, pos, depth)
    local c = s:sub(pos, pos)
    if c == "{" or c == "[" then
        if depth >= MAX_DEPTH then
            error({ msg = "Found too many nested data structures (" .. (depth + 1) .. ") at character " .. pos }, 0)
        end
        if c == "{" then return decode_object(s, pos, depth + 1) end
        return decode_array(s, pos, depth + 1)
    end
    if c == '"' then return decode_string(s, pos) end
    if c == "-" or c:match("%d") then return decode_number(s, pos) end
    if s:sub(pos, pos + 3) == "true" then return true, pos + 4 end
    if s:sub(pos, pos + 4) == "false" then return false, pos + 5 end
    if s:sub(pos, pos + 3) == "null" then return json.null, pos + 4 end
    decode_error(s, pos, "value")
end

function json.decode(s)
    if type(s) ~= "string" then
        return nil, false, "bad argument #1 to 'decode' (string expected, got " .. type(s) .. ")"
    end
    local ok, v = pcall(function()
        local val, p = decode_value(s, skip(s, 1), 0)
        p = skip(s, p)
        if p <= #s then decode_error(s, p, "the end") end
        return val, p
    end)
    if not ok then
        if type(v) == "table" then return nil, false, v.msg end
        error(v, 0)
    end
    return v, 1
end

return json
