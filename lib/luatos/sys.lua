--- sys: LuatOS's task, timer and message scheduler on the desktop.
-- Tasks are coroutines; sys.wait yields; timers and queued messages are
-- delivered from sys.run's loop, as on a module. On the desktop sys.run
-- returns once nothing can happen any more (no timer, no message).
local host = require "fota.host"

local sys = {}

local MAX_DELAY = 126322567     -- LuatOS's longest timer, in ms
local unpack = table.unpack

local timers = {}               -- id -> {fn=, ms=, loop=, due=, args=, n=}
local next_timer_id = 0
local subscribers = {}          -- id -> array of functions or coroutines
local queue = {}                -- published messages not yet delivered
local log_error = function(...) io.stderr:write(table.concat({...}, " "), "\n") end

local function report(co_or_err, err)
    local msg = debug.traceback(co_or_err, tostring(err))
    local log = rawget(_G, "log")
    if log and log.error then log.error("sys", msg) else log_error("sys", msg) end
    error(err, 0)
end

--- Resume a task, logging and re-raising any error in it (LuatOS's default).
function sys.coresume(co, ...)
    local res = table.pack(coroutine.resume(co, ...))
    if not res[1] then report(co, res[2]) end
    return unpack(res, 1, res.n)
end

function sys.taskInit(fn, ...)
    assert(type(fn) == "function", "sys.taskInit: function expected")
    local co = coroutine.create(fn)
    sys.coresume(co, ...)
    return co
end

local function same_args(t, n, args)
    if t.n ~= n then return false end
    for i = 1, n do
        if t.args[i] ~= args[i] then return false end
    end
    return true
end

--- Stop a timer by id, or every timer with this function (and these arguments).
function sys.timerStop(val, ...)
    if type(val) == "number" then
        timers[val] = nil
        return
    end
    local n, args = select("#", ...), {...}
    for id, t in pairs(timers) do
        if t.fn == val and same_args(t, n, args) then timers[id] = nil end
    end
end

function sys.timerStopAll(fn)
    for id, t in pairs(timers) do
        if t.fn == fn then timers[id] = nil end
    end
end

local function start(fn, ms, loop, ...)
    assert(type(fn) == "function" or type(fn) == "thread", "sys.timerStart: function expected")
    ms = math.tointeger(ms) or math.floor(tonumber(ms) or 0)
    if ms < 1 then return nil end
    if ms > MAX_DELAY then error("sys.timerStart: delay longer than " .. MAX_DELAY .. " ms", 3) end
    local n, args = select("#", ...), {...}
    -- A timer with the same function and arguments replaces the old one.
    if type(fn) == "function" then sys.timerStop(fn, ...) end
    next_timer_id = next_timer_id + 1
    timers[next_timer_id] = { fn = fn, ms = ms, loop = loop, due = host.ms() + ms, args = args, n = n }
    return next_timer_id
end

function sys.timerStart(fn, ms, ...) return start(fn, ms, false, ...) end
function sys.timerLoopStart(fn, ms, ...) return start(fn, ms, true, ...) end

function sys.timerIsActive(val, ...)
    if type(val) == "number" then return timers[val] ~= nil end
    local n, args = select("#", ...), {...}
    for _, t in pairs(timers) do
        if t.fn == val and same_args(t, n, args) then return true end
    end
    return false
end

local function running_task(what)
    local co, main = coroutine.running()
    if main then error(what .. " must be called inside a task (sys.taskInit)", 3) end
    return co
end

--- Suspend the task for ms; nil on timeout (or what resumed it early).
function sys.wait(ms)
    local co = running_task("sys.wait")
    local id = start(co, ms, false)
    if not id then error("sys.wait: ms must be >= 1", 2) end
    local res = table.pack(coroutine.yield())
    timers[id] = nil
    return unpack(res, 1, res.n)
end

function sys.subscribe(id, cb)
    assert(type(cb) == "function" or type(cb) == "thread", "sys.subscribe: function or task expected")
    local list = subscribers[id]
    if not list then
        list = {}
        subscribers[id] = list
    end
    for _, v in ipairs(list) do
        if v == cb then return end
    end
    list[#list + 1] = cb
end

function sys.unsubscribe(id, cb)
    local list = subscribers[id]
    if not list then return end
    for i, v in ipairs(list) do
        if v == cb then
            table.remove(list, i)
            break
        end
    end
    if #list == 0 then subscribers[id] = nil end
end

local function wait_message(id, ms, what)
    local co = running_task(what)
    sys.subscribe(id, co)
    local res
    if ms then
        local tid = start(co, ms, false)
        res = table.pack(coroutine.yield())
        timers[tid] = nil
    else
        res = table.pack(coroutine.yield())
    end
    sys.unsubscribe(id, co)
    return res
end

--- true, args... on the message; false on timeout.
function sys.waitUntil(id, ms)
    local res = wait_message(id, ms, "sys.waitUntil")
    return res[1] ~= nil, unpack(res, 2, res.n)
end

--- id, args... on the message; false on timeout.
function sys.waitUntilExt(id, ms)
    local res = wait_message(id, ms, "sys.waitUntilExt")
    if res[1] == nil then return false end
    return unpack(res, 1, res.n)
end

--- Queue a message; it is delivered inside sys.run.
function sys.publish(...)
    queue[#queue + 1] = table.pack(...)
end

local function deliver(msg)
    local list = subscribers[msg[1]]
    if not list then return end
    for _, cb in ipairs({ unpack(list) }) do
        if type(cb) == "function" then
            cb(unpack(msg, 2, msg.n))
        elseif coroutine.status(cb) == "suspended" then
            sys.coresume(cb, unpack(msg, 1, msg.n))
        end
    end
end

local function fire(id, t)
    if t.loop then
        t.due = t.due + t.ms
        local now = host.ms()
        if t.due <= now then t.due = now + t.ms end  -- don't burst after a stall
    else
        timers[id] = nil
    end
    if type(t.fn) == "thread" then
        if coroutine.status(t.fn) == "suspended" then sys.coresume(t.fn) end
    else
        t.fn(unpack(t.args, 1, t.n))
    end
end

local function earliest()
    local best_id, best
    for id, t in pairs(timers) do
        if not best or t.due < best.due or (t.due == best.due and id < best_id) then
            best_id, best = id, t
        end
    end
    return best_id, best
end

--- One pass of the loop: deliver messages, fire due timers. Returns the ms
-- until the next timer (0 if work is pending), or nil when nothing is left.
function sys.step()
    while #queue > 0 do
        deliver(table.remove(queue, 1))
    end
    local now = host.ms()
    local id, t = earliest()
    while t and t.due <= now do
        fire(id, t)
        while #queue > 0 do deliver(table.remove(queue, 1)) end
        id, t = earliest()
    end
    if #queue > 0 then return 0 end
    if not t then return nil end
    return math.max(0, t.due - host.ms())
end

function sys.run()
    while true do
        local idle = sys.step()
        if not idle then return end
        if idle > 0 then host.sleep(idle) end
    end
end

return sys
