-- Golden: the shape (not the value) of rtos / sys / Lua facts a project reads.
PROJECT = "golden_rtos_shape"
VERSION = "1.0.0"

local function p(...) print("GOLDEN", ...) end

local v = rtos.version()
p("version type", type(v))
p("version shape V+digits", v:match("^V%d+$") ~= nil)
p("bsp type", type(rtos.bsp()))
p("meminfo", select("#", rtos.meminfo()), math.type((rtos.meminfo())))
p("meminfo sys", math.type((rtos.meminfo("sys"))))
p("_VERSION", _VERSION)
p("math.maxinteger", math.maxinteger)
p("int division", 7 // 2, 7 / 2, 2 ^ 2)
p("tostring float", tostring(10 / 2), 1e15, 1e16, 0.1)
p("string.format %d", string.format("%d", 3))
p("unpack global", type(unpack), type(loadstring), type(math.pow)) -- luacheck: ignore
p("table.unpack", table.unpack({ 1, 2 }))
p("sys global", type(sys), type(sys.taskInit), type(sysplus))
p("PROJECT", PROJECT, VERSION)
p("rtos.INF_TIMEOUT", type(rtos.INF_TIMEOUT))
p("utf8", type(utf8))
p("done")
os.exit(0)
