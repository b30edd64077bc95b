-- Golden: LuatOS's io extensions on the file system root.
PROJECT = "golden_io_ext"
VERSION = "1.0.0"

local function p(...) print("GOLDEN", ...) end

os.remove("/golden_io.txt")
p("exists missing", io.exists("/golden_io.txt"))
p("fileSize missing", io.fileSize("/golden_io.txt"))
p("readFile missing", io.readFile("/golden_io.txt"))
p("writeFile", io.writeFile("/golden_io.txt", "hello world"))
p("exists", io.exists("/golden_io.txt"))
p("fileSize", io.fileSize("/golden_io.txt"))
p("readFile", io.readFile("/golden_io.txt"))
p("readFile offset len", io.readFile("/golden_io.txt", "rb", 6, 3))
p("writeFile append", io.writeFile("/golden_io.txt", "!!", "ab+"))
p("after append", io.readFile("/golden_io.txt"))
p("writeFile replace", io.writeFile("/golden_io.txt", "new"))
p("after replace", io.readFile("/golden_io.txt"), io.fileSize("/golden_io.txt"))
local f = io.open("/golden_io.txt", "rb")
p("io.open", f ~= nil, f and f:read("a"))
if f then f:close() end
p("main.lua in luadb", io.exists("/luadb/main.lua"))
p("remove", os.remove("/golden_io.txt"))
p("exists after remove", io.exists("/golden_io.txt"))
p("done")
os.exit(0)
