-- Golden: sys timers (timerStart, timerLoopStart, timerStop, timerStopAll, timerIsActive).
PROJECT = "golden_sys_timers"
VERSION = "1.0.0"

local function p(...) print("GOLDEN", ...) end

local order = {}
local function mark(tag) order[#order + 1] = tag end

local id1 = sys.timerStart(mark, 150, "t30")
local id2 = sys.timerStart(mark, 20, "t10")
local id3 = sys.timerStart(mark, 80, "t20")
p("ids are numbers", math.type(id1), math.type(id2), math.type(id3))
p("ids differ", id1 ~= id2 and id2 ~= id3 and id1 ~= id3)
p("isActive by id", sys.timerIsActive(id1) ~= nil)
p("isActive by id gives", type(sys.timerIsActive(id1)))
p("isActive by fn+args", sys.timerIsActive(mark, "t20") ~= nil)
p("isActive by fn other args", sys.timerIsActive(mark, "nope") ~= nil)
p("timerStart 0 ms", sys.timerStart(mark, 0, "zero"))

-- starting the same function with the same args replaces the old timer
local function dup(tag) mark("dup-" .. tag) end
local d1 = sys.timerStart(dup, 170, "a")
local d2 = sys.timerStart(dup, 185, "a")
p("same fn+args replaced", sys.timerIsActive(d1) == nil, sys.timerIsActive(d2) ~= nil)

-- stop by id and by function+args
local s1 = sys.timerStart(mark, 15, "stopped-by-id")
sys.timerStop(s1)
sys.timerStart(mark, 16, "stopped-by-fn")
sys.timerStop(mark, "stopped-by-fn")
p("stopped by id", sys.timerIsActive(s1) == nil)
p("stopped by fn", sys.timerIsActive(mark, "stopped-by-fn") == nil)

-- a loop timer runs until stopped
local n = 0
local loop
loop = sys.timerLoopStart(function(tag)
    n = n + 1
    mark(tag .. n)
    if n == 3 then sys.timerStop(loop) end
end, 110, "loop")
p("loop id is number", math.type(loop))

-- timerStopAll(fn) stops every timer of that function
local function many(tag) mark("many-" .. tag) end
sys.timerStart(many, 5, "x")
sys.timerStart(many, 6, "y")
sys.timerStopAll(many)
p("stopAll", sys.timerIsActive(many, "x") == nil, sys.timerIsActive(many, "y") == nil)

-- timers with several arguments, including nil in the middle
sys.timerStart(function(a, b, c)
    mark("args:" .. tostring(a) .. "," .. tostring(b) .. "," .. tostring(c))
end, 45, 1, nil, "c")

sys.taskInit(function()
    sys.wait(450)
    for i, tag in ipairs(order) do p("fired", i, tag) end
    p("loop ran", n)
    p("loop active after stop", sys.timerIsActive(loop) ~= nil)
    p("done")
    os.exit(0)
end)

sys.run()
