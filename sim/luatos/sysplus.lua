--- sysplus: LuatOS's named tasks with message queues (taskInitEx, waitMsg,
-- sendMsg, cleanMsg, taskDel, taskCB) and sys_cw, the wait object LuatOS's
-- asynchronous C APIs return. The functions are also installed into sys
-- (where newer LuatOS versions keep them) and as the globals sys_send and
-- sys_wait, as a module's firmware does.
local sys = require "sys"

local sysplus = {}
local tasks = {}   -- name -> { queue = {}, timed_out = bool, cb = }

--- A task with a message queue; cbFun(msg) gets messages waitMsg is not waiting for.
function sysplus.taskInitEx(fun, taskName, cbFun, ...)
    tasks[taskName] = { queue = {}, timed_out = false, cb = cbFun }
    return sys.taskInit(fun, ...)
end

function sysplus.taskDel(taskName)
    tasks[taskName] = nil
end

local function timeout(taskName)
    local t = tasks[taskName]
    if t then t.timed_out = true end
    sys.publish(taskName)
end

--- The first message whose first value is target (any message when target
-- is nil), as {target, p2, p3, p4}; nil after ms (nil or 0: no timeout);
-- false for a task not made by taskInitEx.
function sysplus.waitMsg(taskName, target, ms)
    local t = tasks[taskName]
    if not t then
        local log = rawget(_G, "log")
        if log then log.error("sysplus", "waitMsg needs a task made by sys.taskInitEx", tostring(taskName)) end
        return false
    end
    local function take()
        local msg = table.remove(t.queue, 1)
        if target == nil or msg[1] == target then return msg end
        if type(t.cb) == "function" then t.cb(msg) end
    end
    if #t.queue > 0 then
        local msg = take()
        if msg then return msg end
    end
    local co = coroutine.running()
    sys.subscribe(taskName, co)
    sys.timerStop(timeout, taskName)
    if ms and ms ~= 0 then sys.timerStart(timeout, ms, taskName) end
    t.timed_out = false
    local got
    while not got and not t.timed_out do
        coroutine.yield()
        if #t.queue > 0 then got = take() end
    end
    if t.timed_out then got = nil end
    t.timed_out = false
    sys.timerStop(timeout, taskName)
    sys.unsubscribe(taskName, co)
    return got
end

--- true when the task exists (the message is queued), else false.
function sysplus.sendMsg(taskName, param1, param2, param3, param4)
    local t = tasks[taskName]
    if not t then return false end
    t.queue[#t.queue + 1] = { param1, param2, param3, param4 }
    sys.publish(taskName)
    return true
end

function sysplus.cleanMsg(taskName)
    local t = tasks[taskName]
    if not t then return false end
    t.queue = {}
    return true
end

function sysplus.taskCB(taskName, msg)
    local t = tasks[taskName]
    if t and type(t.cb) == "function" then return t.cb(msg) end
    local log = rawget(_G, "log")
    if log then log.error(tostring(taskName), "no cb fun") end
end

--- The wait object of an asynchronous C API: :wait() in a task returns the
-- result message's values; :cb(f) calls f with them from a new task. With
-- results given now (...), both return those at once.
local cwait = {}
cwait.__index = function(t, k)
    local w, r = rawget(t, "w"), rawget(t, "r")
    if k == "wait" then
        return function()
            if r then return table.unpack(r, 1, r.n) end
            return sys.waitUntilMsg(w)
        end
    elseif k == "cb" then
        return function(f)
            if type(f) ~= "function" then return end
            sys.taskInit(function()
                if r then return f(table.unpack(r, 1, r.n)) end
                f(sys.waitUntilMsg(w))
            end)
        end
    end
end

function sysplus.cwait(w, ...)
    local r = select("#", ...) > 0 and table.pack(...) or nil
    return setmetatable({ w = w, r = r }, cwait)
end

for k, v in pairs(sysplus) do
    if k ~= "cwait" then sys[k] = v end
end
_G.sys_cw = sysplus.cwait
_G.sys_send = sysplus.sendMsg
_G.sys_wait = sysplus.waitMsg

return sysplus
