-- Golden: json.encode / json.decode. Objects with one key only (the order of several keys
-- follows each VM's hash order), or decoded again and printed sorted.
PROJECT = "golden_json"
VERSION = "1.0.0"

local function p(...) print("GOLDEN", ...) end

local function dump(v)
    if v == json.null then return "null" end
    if type(v) ~= "table" then
        if type(v) == "string" then return string.format("%q", v) end
        return math.type(v) and (math.type(v) .. ":" .. tostring(v)) or tostring(v)
    end
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = k end
    table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
    local parts = {}
    for _, k in ipairs(keys) do parts[#parts + 1] = tostring(k) .. "=" .. dump(v[k]) end
    return "{" .. table.concat(parts, ",") .. "}"
end

local function enc(label, v) p("encode", label, json.encode(v)) end

enc("int", 42)
enc("neg", -7)
enc("zero", 0)
enc("float", 3.25)
enc("float third", 1 / 3)
enc("big int", 1234567890123)
enc("float whole", 2.0)
enc("true", true)
enc("false", false)
enc("string", "hello")
enc("empty string", "")
enc("escapes", "a\"b\\c/d\n\r\t\b\f")
enc("control", "x\1y\31z")
enc("utf8", "中文")
enc("array", { 1, 2, 3 })
enc("nested array", { { 1, { 2 } }, { "a" } })
enc("one key", { a = 1 })
enc("nested one key", { a = { b = { c = "d" } } })
enc("array of objects", { { k = 1 }, { k = "v" } })
enc("empty table", {})
enc("null", json.null)
enc("null in array", { 1, json.null, 3 })
enc("mixed array", { 1, "two", true, 4.5 })

enc("float zero", 0.0)
enc("tiny float", 1e-20)
enc("sparse", { [1] = 1, [3] = 3 })
p("encode nil", "[" .. json.encode(nil) .. "]")
p("encode format 3f", json.encode({ 1.23456 }, "3f"))
p("encode format %.2f", json.encode(2.5, "%.2f"))
p("encode bad format", json.encode(1.5, "x"))
local r2 = table.pack(json.encode({ [20] = 1 }))
p("encode too sparse", r2.n, r2[1], type(r2[2]))
local r3 = table.pack(json.encode({ f = print }))
p("encode function", r3.n, r3[1], type(r3[2]))
enc("float key", { [2.5] = "x" })
enc("int key object", { [0] = "zero" })
enc("del char", "a\127b")
local obj = { name = "dev", n = 3, list = { 1, 2 }, sub = { x = true } }
local text = json.encode(obj)
p("encode object length", #text)
local back = json.decode(text)
p("roundtrip", dump(back))

local function dec(label, s)
    local r = table.pack(json.decode(s))
    local parts = {}
    for i = 1, r.n do parts[i] = i == 1 and dump(r[i]) or (type(r[i]) == "string" and "<msg>" or tostring(r[i])) end
    p("decode", label, r.n >= 1 and table.concat(parts, " ") or "(nothing)")
end

dec("object", '{"a":1,"b":[true,false,null],"c":"s"}')
dec("int", "123")
dec("float", "1.5")
dec("exp", "1e3")
dec("neg", "-0.25")
dec("string", '"x\\u0041\\n"')
dec("unicode escape", '"\\u4e2d"')
dec("array", "[1,2,[3]]")
dec("null in object", '{"a":null}')
dec("whitespace", ' { "a" : [ 1 , 2 ] } ')
dec("exp with dot", "1.5e3")
dec("minus zero", "-0")
dec("zero", "0")
dec("surrogates", '"\\ud83d\\ude00"')
dec("garbage after", "[1,2] x")
dec("single quotes", "{'a':1}")
dec("nested depth", "[[[[[[[[[[1]]]]]]]]]]")
dec("bad", "{bad}")
dec("truncated", '{"a":1')
dec("trailing comma", "[1,2,]")
dec("empty", "")
p("done")
os.exit(0)
