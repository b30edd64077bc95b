-- Golden: fskv values keep their type.
PROJECT = "golden_fskv"
VERSION = "1.0.0"

local function p(...) print("GOLDEN", ...) end

p("init", fskv.init())
fskv.clear()
p("set int", fskv.set("i", 123))
p("set neg", fskv.set("neg", -5))
p("set float", fskv.set("f", 1.5))
p("set str", fskv.set("s", "hello"))
p("set bool", fskv.set("b", true))
p("set false", fskv.set("bf", false))
p("set table", fskv.set("t", { a = 1 }))
p("set empty str", fskv.set("es", ""))
p("get int", fskv.get("i"), math.type(fskv.get("i")))
p("get neg", fskv.get("neg"))
p("get float", fskv.get("f"), math.type(fskv.get("f")))
p("get str", fskv.get("s"))
p("get bool", fskv.get("b"), fskv.get("bf"))
local t = fskv.get("t")
p("get table", type(t), t and t.a)
p("get empty str gives values", select("#", fskv.get("es")))
p("get missing", fskv.get("missing"))
p("sett", fskv.sett("t", "b", "x"))
local t2 = fskv.get("t")
p("after sett", t2.a, t2.b)
p("get skey", fskv.get("t", "b"))
p("del", fskv.del("s"))
p("after del", fskv.get("s"))
p("del missing", fskv.del("nothere"))
p("overwrite", fskv.set("i", "now a string"), fskv.get("i"))
local used, total, count = fskv.status()
p("status types", math.type(used), math.type(total), count)
local names = {}
local it = fskv.iter()
if it then
    while true do
        local k = fskv.next(it)
        if not k then break end
        names[#names + 1] = k
    end
end
table.sort(names)
p("iter", table.concat(names, ","))
p("clear", fskv.clear())
p("after clear", fskv.get("i"), select(3, fskv.status()))
p("done")
os.exit(0)
