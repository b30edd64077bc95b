-- An Air-style library's scheduler (module(), rtos.receive, rtos.on), as
-- LuatOS-Air's lib/sys.lua is built: what the simulator's Air ground must carry.
require "utils"
module(..., package.seeall)
local handlers, timers, queue, subs = {}, {}, {}, {}
local nextid = 0
rtos.on = function(id, fn) handlers[id] = fn end
function timerStart(fn, ms, ...)
    nextid = nextid + 1
    timers[nextid] = { fn = fn, args = { ... } }
    rtos.timer_start(nextid, ms)
end
function subscribe(id, fn) subs[id] = fn end
function publish(...) table.insert(queue, { ... }) end
function init() uart.setup(uart.ATC, 0, 0, uart.PAR_NONE, uart.STOP_1) end
function run()
    while true do
        while #queue > 0 do
            local m = table.remove(queue, 1)
            if subs[m[1]] then subs[m[1]](unpack(m, 2)) end
        end
        local msg, param = rtos.receive(rtos.INF_TIMEOUT)
        if msg == rtos.MSG_TIMER and timers[param] then
            local t = timers[param]; timers[param] = nil
            t.fn(unpack(t.args))
        elseif type(msg) == "number" then
            if handlers[msg] then handlers[msg](param) end
        else
            handlers[msg.id](msg)
        end
    end
end
