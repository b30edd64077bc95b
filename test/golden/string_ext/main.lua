-- Golden: LuatOS's string extensions.
PROJECT = "golden_string_ext"
VERSION = "1.0.0"

local function p(...) print("GOLDEN", ...) end
local function list(t)
    local parts = {}
    for i, v in ipairs(t) do parts[i] = "[" .. v .. "]" end
    return #t .. ":" .. table.concat(parts)
end

p("toHex", ("abc\0\255"):toHex())
p("toHex sep", string.toHex("abc", " "))
p("toHex returns", select("#", string.toHex("ab")), select(2, string.toHex("ab")))
p("fromHex", string.fromHex("616263"))
p("fromHex lower/upper", string.fromHex("4a4B"))
p("fromHex odd", #string.fromHex("616"))
p("split", list(string.split("a,b,,c", ",")))
p("split keep", list(string.split("a,b,,c", ",", true)))
p("split multi", list(("1--2--3"):split("--")))
p("split dot", list(("1.2.3"):split(".")))
p("split none", list(("abc"):split(",")))
p("split empty", list((""):split(",")))
p("startsWith", ("hello"):startsWith("he"), ("hello"):startsWith("lo"))
p("endsWith", ("hello"):endsWith("lo"), ("hello"):endsWith("he"))
p("trim", "[" .. ("  x y  "):trim() .. "]")
p("toBase64", ("hello"):toBase64())
p("fromBase64", ("aGVsbG8="):fromBase64())
p("toValue", ("1234"):toValue():toHex())
p("done")
os.exit(0)
