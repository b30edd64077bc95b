-- Golden: sys tasks, wait/waitUntil with and without timeout, publish/subscribe order,
-- an error inside a task (with the roll-back and restart turned off, other tasks go on).
PROJECT = "golden_sys_tasks"
VERSION = "1.0.0"
_G.COROUTINE_ERROR_ROLL_BACK = false
_G.COROUTINE_ERROR_RESTART = false

local function p(...) print("GOLDEN", ...) end

-- taskInit runs the task at once, with its arguments
local co = sys.taskInit(function(a, b)
    p("task started", a, b)
    local r = sys.wait(10)
    p("wait 10 returned", r)
end, "A", 2)
p("taskInit returns", type(co))
p("after taskInit")

-- subscribers: functions get the args, in subscription order
sys.subscribe("EV", function(...) p("sub1", select("#", ...), ...) end)
local function sub2(...) p("sub2", ...) end
sys.subscribe("EV", sub2)

sys.taskInit(function()
    -- waitUntil with a timeout that expires
    local r1, r2 = sys.waitUntil("NEVER", 30)
    p("waitUntil timeout", r1, r2)
    -- waitUntil 0: false at once
    p("waitUntil 0", sys.waitUntil("NEVER", 0))
    -- wait(0) returns at once
    p("wait 0", sys.wait(0))
    -- waitUntil without timeout gets the publish
    local ok, x, y = sys.waitUntil("GO")
    p("waitUntil GO", ok, x, y)
    -- waitUntilExt gives the id
    p("waitUntilExt", sys.waitUntilExt("GO2", 1000))
    -- a wait woken early by publish? (wait only ends by its timer)
    p("wait 20", sys.wait(20))
    sys.publish("EV", "from-task", nil, 3)
    sys.wait(10)
    sys.unsubscribe("EV", sub2)
    sys.publish("EV", "after-unsub")
    sys.wait(10)
    -- several publishes are delivered in order
    for i = 1, 3 do sys.publish("ORDER", i) end
    sys.wait(10)
    -- an error inside another task
    sys.taskInit(function()
        sys.wait(5)
        local t = nil
        p("before error")
        return t.field
    end)
    sys.wait(50)
    p("still running after the task error")
    p("done")
    os.exit(0)
end)

sys.subscribe("ORDER", function(i) p("order", i) end)

sys.timerStart(sys.publish, 100, "GO", "x1", 42)
sys.timerStart(sys.publish, 150, "GO2", "y1")
sys.publish("EV", "queued-before-run")
p("published before run")

sys.run()
