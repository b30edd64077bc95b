--- simbus: the simulated module's message bus, the one owner of what the
-- Lua side waits for: rtos timers and the simulator's events (the network
-- coming up, data arriving). rtos.timer_start/timer_stop/receive are its
-- face to scripts; the simulator posts events with simbus.post. An event's
-- handler runs inside rtos.receive, as a module's C events do.
local host = require "fota.host"

local simbus = { MSG_TIMER = 1 }

local timers = {}   -- id -> { due =, ms =, rep =, seq = }: rep 0 once, -1 forever, n: n more
local events = {}   -- { due =, seq =, fn =, args = }
local seq = 0
local loop_entered = false

function simbus.timer_start(id, ms, rep)
    seq = seq + 1
    timers[id] = { due = host.ms() + ms, ms = ms, rep = rep, seq = seq }
end

function simbus.timer_stop(id) timers[id] = nil end

--- Runs fn(...) inside receive() once delay_ms have passed.
function simbus.post(delay_ms, fn, ...)
    seq = seq + 1
    events[#events + 1] = { due = host.ms() + math.max(0, delay_ms), seq = seq, fn = fn,
                            args = table.pack(...) }
end

--- As post, but receive() gives what fn returns: a message of the firmware
-- (LuatOS-Air's uart.ATC posts MSG_UART_RXDATA, id, length this way).
function simbus.post_msg(delay_ms, fn, ...)
    simbus.post(delay_ms, fn, ...)
    events[#events].msg = true
end

--- True when no timer and no event is pending: a module would wait forever.
function simbus.idle() return next(timers) == nil and #events == 0 end

--- What receive(-1) does when nothing can ever arrive: the simulator's boot
-- ends the boot; elsewhere (busted) it is an error.
simbus.on_idle = function() error("rtos.receive: nothing left to wait for (no timer, no event)", 0) end

--- Marks that the script entered its message loop (sys.run), which on a
-- module never returns: a main.lua that ends without it ends the Lua VM.
function simbus.enter_loop() loop_entered = true end
function simbus.loop_entered() return loop_entered end

local function earliest()
    local best, kind, key
    for id, t in pairs(timers) do
        if not best or t.due < best.due or (t.due == best.due and t.seq < best.seq) then
            best, kind, key = t, "timer", id
        end
    end
    for i, e in ipairs(events) do
        if not best or e.due < best.due or (e.due == best.due and e.seq < best.seq) then
            best, kind, key = e, "event", i
        end
    end
    return best, kind, key
end

--- Waits up to timeout ms (negative: forever) for the next message: a timer
-- gives MSG_TIMER, id, repeats left (0 for its last); an event runs its
-- handler and gives nothing; a timeout gives -1.
function simbus.receive(timeout)
    loop_entered = true
    local deadline = timeout >= 0 and host.ms() + timeout or nil
    while true do
        local t, kind, key = earliest()
        local now = host.ms()
        if not t then
            if not deadline then return simbus.on_idle() end
            if now < deadline then host.sleep(deadline - now) end
            return -1
        end
        if t.due > now then
            if deadline and deadline <= now then return -1 end
            host.sleep((deadline and math.min(t.due, deadline) or t.due) - now)
        elseif kind == "event" then
            table.remove(events, key)
            if t.msg then return t.fn(table.unpack(t.args, 1, t.args.n)) end
            t.fn(table.unpack(t.args, 1, t.args.n))
            return
        else
            local rep = t.rep
            if rep == 0 then
                timers[key] = nil
            else
                if rep > 0 then t.rep = rep - 1 end
                t.due = t.due + t.ms
                if t.due <= now then t.due = now + t.ms end  -- no burst after a stall
                seq = seq + 1
                t.seq = seq
            end
            return simbus.MSG_TIMER, key, rep
        end
    end
end

return simbus
