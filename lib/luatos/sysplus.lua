--- sysplus: LuatOS's task message queues on top of sys (the parts FOTA and
-- network scripts use): sys.taskInitEx, sys.waitMsg, sys.sendMsg,
-- sys.cleanMsg, sys.taskDel. Requiring it installs them into sys.
local sys = require "sys"

local tasks = {}   -- name -> { co =, queue = {}, cb = }

--- A named task with a message queue; cbFun(msg) gets messages nobody waits for.
function sys.taskInitEx(fun, taskName, cbFun, ...)
    assert(taskName ~= nil, "sys.taskInitEx: taskName expected")
    tasks[taskName] = { queue = {}, cb = cbFun }
    local co = sys.taskInit(fun, ...)
    if tasks[taskName] then tasks[taskName].co = co end
    return co
end

function sys.taskDel(taskName)
    tasks[taskName] = nil
end

function sys.cleanMsg(taskName)
    local t = tasks[taskName]
    if t then t.queue = {} end
end

--- {target, arg2, arg3, arg4} for the first message with id target (any when
-- target is nil), or false after ms.
function sys.waitMsg(taskName, target, ms)
    local t = tasks[taskName]
    if not t then error("sys.waitMsg: no task " .. tostring(taskName), 2) end
    local host = require "fota.host"
    local deadline = ms and (host.ms() + ms)
    while true do
        local i = 1
        while i <= #t.queue do
            local msg = t.queue[i]
            if target == nil or msg[1] == target then
                table.remove(t.queue, i)
                return msg
            end
            -- A message the task does not wait for goes to its callback.
            if t.cb then
                table.remove(t.queue, i)
                t.cb(msg)
            else
                i = i + 1
            end
        end
        local left = deadline and (deadline - host.ms())
        if left and left < 1 then return false end
        sys.waitUntil("SYSPLUS_MSG_" .. tostring(taskName), left)
    end
end

function sys.sendMsg(taskName, target, arg2, arg3, arg4)
    local t = tasks[taskName]
    if not t then return false end
    t.queue[#t.queue + 1] = { target, arg2, arg3, arg4 }
    sys.publish("SYSPLUS_MSG_" .. tostring(taskName))
    return true
end

return sys
