-- A project's own copy of sys.lua, written only against the rtos natives
-- (rtos.timer_start / timer_stop / receive), as LuatOS's own sys.lua is. The
-- firmware's sys must not be used when a project ships this file.
local rtos = _G.rtos

local sys = { OWN = true }
local timers, subs, queue = {}, {}, {}
local next_id = 0

local function resume(co, ...)
    local ok, err = coroutine.resume(co, ...)
    if not ok then log.error("own.sys", err) end
end

function sys.taskInit(fn, ...)
    local co = coroutine.create(fn)
    resume(co, ...)
    return co
end

local function start(cb, ms, rep, args)
    next_id = next_id + 1
    if rtos.timer_start(next_id, ms, rep) ~= 1 then return nil end
    timers[next_id] = { cb = cb, args = args }
    return next_id
end

function sys.timerStart(fn, ms, ...) return start(fn, ms, 0, table.pack(...)) end
function sys.timerLoopStart(fn, ms, ...) return start(fn, ms, -1, table.pack(...)) end
function sys.timerStop(id)
    if type(id) == "number" then rtos.timer_stop(id) timers[id] = nil end
end
function sys.timerStopAll(fn)
    for id, t in pairs(timers) do
        if t.cb == fn then rtos.timer_stop(id) timers[id] = nil end
    end
end

function sys.wait(ms)
    local co = coroutine.running()
    local id = start(co, ms, 0, table.pack())
    if not id then return end
    local res = table.pack(coroutine.yield())
    if res.n > 0 then sys.timerStop(id) return table.unpack(res, 1, res.n) end
end

function sys.subscribe(id, cb)
    subs[id] = subs[id] or {}
    subs[id][#subs[id] + 1] = cb
end
function sys.unsubscribe(id, cb)
    for i, v in ipairs(subs[id] or {}) do
        if v == cb then table.remove(subs[id], i) break end
    end
end
function sys.publish(...) queue[#queue + 1] = table.pack(...) end

function sys.waitUntil(id, ms)
    local co = coroutine.running()
    sys.subscribe(id, co)
    local res = ms and table.pack(sys.wait(ms)) or table.pack(coroutine.yield())
    sys.unsubscribe(id, co)
    return res[1] ~= nil, table.unpack(res, 2, res.n)
end

function sys.run()
    log.info("own.sys", "the project's own sys.lua runs the loop")
    while true do
        while #queue > 0 do
            local msg = table.remove(queue, 1)
            for _, cb in ipairs({ table.unpack(subs[msg[1]] or {}) }) do
                if type(cb) == "thread" then resume(cb, table.unpack(msg, 1, msg.n))
                else cb(table.unpack(msg, 2, msg.n)) end
            end
        end
        local msg, id, left = rtos.receive(rtos.INF_TIMEOUT)
        local t = msg == rtos.MSG_TIMER and timers[id]
        if t then
            if left == 0 then timers[id] = nil end
            if type(t.cb) == "thread" then resume(t.cb) else t.cb(table.unpack(t.args, 1, t.args.n)) end
        end
    end
end

_G.sys_pub = sys.publish
return sys
