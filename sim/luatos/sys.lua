--- sys: LuatOS's task, timer and message scheduler, on the rtos natives
-- (timer_start/timer_stop/receive) exactly as a module's sys.lua is, so
-- what a script can observe is the same: timer ids, return values, the
-- order of delivery, and what an error in a task does. Written for the
-- desktop; one difference, documented in docs/simulator.md: sys.run()
-- returns when no timer, message or event is left (a module waits forever).
local rtos = require "rtos"
local simbus = require "simbus"

local sys = {}

local unpack = table.unpack
local TASK_TIMER_MAX = 0x1FFFFF     -- ids 1 .. this - 1 are sys.wait's
local MSG_TIMER_MAX = 0x7FFFFF      -- ids above TASK_TIMER_MAX are sys.timerStart's

local task_timer_id, msg_timer_id = 0, TASK_TIMER_MAX
local pool = {}          -- timer id -> the waiting task, or the callback
local task_timer = {}    -- task -> its sys.wait timer id
local params = {}        -- timer id -> the callback's arguments (a packed table)
local subscribers = {}   -- message id -> { callbacks in subscription order, [cb] = true }
local queue = {}         -- published, not yet dispatched

_G.COROUTINE_ERROR_ROLL_BACK = true
_G.COROUTINE_ERROR_RESTART = true

local function logger() return rawget(_G, "log") end

--- Resumes a task. An error in it is logged; then, as on a module, the
-- script is ended 500 ms later (COROUTINE_ERROR_ROLL_BACK, the default),
-- or the module reboots at once (COROUTINE_ERROR_RESTART), or, with both
-- false, everything else goes on.
function sys.coresume(co, ...)
    local res = table.pack(coroutine.resume(co, ...))
    if not res[1] then
        local trace = debug.traceback(co, tostring(res[2]))
        local log = logger()
        if log then log.error("coroutine.resume", trace) else io.stderr:write(trace, "\n") end
        if _G.COROUTINE_ERROR_ROLL_BACK then
            sys.timerStart(assert, 500, false, trace)
        elseif _G.COROUTINE_ERROR_RESTART then
            rtos.reboot()
        end
    end
    return unpack(res, 1, res.n)
end

function sys.check_task()
    local co, main = coroutine.running()
    if main then error(debug.traceback("attempt to yield from outside a coroutine"), 2) end
    return co
end

function sys.taskInit(fn, ...)
    local co = coroutine.create(fn)
    sys.coresume(co, ...)
    return co
end

--- Suspends the task for ms. Returns nothing on timeout, or what resumed it
-- early; with ms < 1 it returns at once (the timer does not start).
function sys.wait(ms)
    local co = sys.check_task()
    repeat
        task_timer_id = task_timer_id >= TASK_TIMER_MAX - 1 and 1 or task_timer_id + 1
    until pool[task_timer_id] == nil
    local id = task_timer_id
    -- as LuatOS's sys.lua: a timer that cannot start (ms < 1) is logged at debug level
    if rtos.timer_start(id, ms) ~= 1 then
        if logger() then logger().debug("rtos.timer_start error") end
        return
    end
    pool[id], task_timer[co] = co, id
    local res = table.pack(coroutine.yield())
    if res.n > 0 then
        rtos.timer_stop(id)
        pool[id], task_timer[co] = nil, nil
        return unpack(res, 1, res.n)
    end
end

local function same_args(args, stored)
    stored = stored or { n = 0 }
    if args.n ~= stored.n then return false end
    for i = 1, args.n do
        if args[i] ~= stored[i] then return false end
    end
    return true
end

--- Stops timer id, or the first timer of fn started with these arguments.
function sys.timerStop(val, ...)
    if type(val) == "number" then
        pool[val], params[val] = nil, nil
        rtos.timer_stop(val)
        return
    end
    local args = table.pack(...)
    for id, cb in pairs(pool) do
        if cb == val and id > TASK_TIMER_MAX and same_args(args, params[id]) then
            rtos.timer_stop(id)
            pool[id], params[id] = nil, nil
            return
        end
    end
end

function sys.timerStopAll(fn)
    for id, cb in pairs(pool) do
        if cb == fn and id > TASK_TIMER_MAX then
            rtos.timer_stop(id)
            pool[id], params[id] = nil, nil
        end
    end
end

--- A timer calling fn(...) after ms, rep times more (0 once, -1 forever).
-- A timer of the same fn and arguments is replaced. Its id, or nil.
function sys.timerAdvStart(fn, ms, rep, ...)
    sys.timerStop(fn, ...)
    repeat
        msg_timer_id = msg_timer_id >= MSG_TIMER_MAX and TASK_TIMER_MAX + 1 or msg_timer_id + 1
    until pool[msg_timer_id] == nil
    local id = msg_timer_id
    if rtos.timer_start(id, ms, rep) ~= 1 then
        if logger() then logger().error("rtos.timer_start", "create fail!!!") end   -- LuatOS's sys.lua says so too
        return
    end
    pool[id] = fn
    if select("#", ...) > 0 then params[id] = table.pack(...) end
    return id
end

function sys.timerStart(fn, ms, ...) return sys.timerAdvStart(fn, ms, 0, ...) end
function sys.timerLoopStart(fn, ms, ...) return sys.timerAdvStart(fn, ms, -1, ...) end

--- By id: the timer's callback (or task) when active, else nil. By function
-- and arguments: true when such a timer is active, else nil.
function sys.timerIsActive(val, ...)
    if type(val) == "number" then return pool[val] end
    local args = table.pack(...)
    for id, cb in pairs(pool) do
        if cb == val and same_args(args, params[id]) then return true end
    end
end

--- id may be a table of ids. A callback is a function (gets the message's
-- arguments) or a task (resumed with the id and the arguments).
function sys.subscribe(id, cb)
    if type(id) == "table" then
        for _, v in pairs(id) do sys.subscribe(v, cb) end
        return
    end
    local list = subscribers[id]
    if not list then
        list = {}
        subscribers[id] = list
    end
    if not list[cb] then
        list[cb] = true
        list[#list + 1] = cb
    end
end

function sys.unsubscribe(id, cb)
    if type(id) == "table" then
        for _, v in pairs(id) do sys.unsubscribe(v, cb) end
        return
    end
    local list = subscribers[id]
    if not list or not list[cb] then return end
    list[cb] = nil
    for i, v in ipairs(list) do
        if v == cb then table.remove(list, i) break end
    end
    if #list == 0 then subscribers[id] = nil end
end

--- Queues a message; it is dispatched from the message loop.
function sys.publish(...)
    queue[#queue + 1] = table.pack(...)
end

local function wait_for(id, ms)
    local co = sys.check_task()
    sys.subscribe(id, co)
    local res
    if ms then res = table.pack(sys.wait(ms)) else res = table.pack(coroutine.yield()) end
    sys.unsubscribe(id, co)
    return res
end

--- true and the message's arguments, or false on timeout (ms 0: at once).
function sys.waitUntil(id, ms)
    local res = wait_for(id, ms)
    return res[1] ~= nil, unpack(res, 2, res.n)
end

--- The message's arguments, no flag; waits without a timeout.
function sys.waitUntilMsg(id)
    local res = wait_for(id)
    return unpack(res, 2, res.n)
end

--- The id and the arguments, or false on timeout.
function sys.waitUntilExt(id, ms)
    local res = wait_for(id, ms)
    if res[1] ~= nil then return unpack(res, 1, res.n) end
    return false
end

local function dispatch()
    while #queue > 0 do
        local msg = table.remove(queue, 1)
        local list = subscribers[msg[1]]
        if list then
            for _, cb in ipairs({ unpack(list) }) do
                if type(cb) == "function" then
                    cb(unpack(msg, 2, msg.n))
                elseif type(cb) == "thread" then
                    sys.coresume(cb, unpack(msg, 1, msg.n))
                end
            end
        end
    end
end

--- One turn of the loop: dispatch the queue, then take one message from
-- the natives (waiting at most timeout ms; -1 forever) and handle it.
function sys.safeRun(timeout)
    dispatch()
    local msg, id, left = rtos.receive(timeout or rtos.INF_TIMEOUT)
    if msg ~= rtos.MSG_TIMER or pool[id] == nil then return end
    local cb = pool[id]
    if id < TASK_TIMER_MAX then
        pool[id] = nil
        if task_timer[cb] == id then
            task_timer[cb] = nil
            sys.coresume(cb)
        end
        return
    end
    local args = params[id]
    if left == 0 then pool[id], params[id] = nil, nil end
    if args then cb(unpack(args, 1, args.n)) else cb() end
end

--- Runs the loop. On the desktop it returns when nothing is left to happen.
function sys.run()
    simbus.enter_loop()
    while true do
        dispatch()
        if simbus.idle() then return end
        sys.safeRun()
    end
end

_G.sys_pub = sys.publish

return sys
