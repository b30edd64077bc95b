-- sys as LuatOS's sys.lua behaves, observed the way a script can observe
-- it: return values, timer ids, delivery order, what an error in a task
-- does. The expected values are LuatOS's documented (and its sys.lua's)
-- results; the observation runs on our sys.
local T = require "testutil"

--- A fresh sys on a fresh message bus (they keep their state in the module).
local function fresh_sys()
    T.fresh("simbus")
    T.fresh("rtos")
    local sys = T.fresh("sys")
    return sys, T.fresh("sysplus")
end

--- A log that keeps its lines.
local function capture_log()
    local log = T.fresh("log")
    local lines = {}
    log.output({ write = function(_, s) lines[#lines + 1] = s end, flush = function() end })
    return log, lines
end

describe("sys (LuatOS semantics)", function()
    local sys, sysplus
    before_each(function() sys, sysplus = fresh_sys() end)
    after_each(function()
        _G.log = nil
        _G.COROUTINE_ERROR_ROLL_BACK, _G.COROUTINE_ERROR_RESTART = true, true
    end)

    it("the observation script gets LuatOS's results", function()
        local seen = {}
        local function note(k, ...) seen[k] = table.pack(...) end
        sys.taskInit(function()
            note("wait0", sys.wait(0))
            note("wait_neg", sys.wait(-5))
            note("until0", sys.waitUntil("NEVER", 0))
            note("until_timeout", sys.waitUntil("NEVER", 10))
            note("ext_timeout", sys.waitUntilExt("NEVER", 10))
            note("wait_timeout", sys.wait(5))
        end)
        local id = sys.timerStart(function() end, 50)
        note("first_timer_id", id)
        note("active_by_id", type(sys.timerIsActive(id)))
        note("active_by_fn_none", sys.timerIsActive(print))
        sys.timerStop(id)
        note("inactive_by_id", sys.timerIsActive(id))
        note("timer_zero", sys.timerStart(print, 0))
        note("subscribe", sys.subscribe("X", print))
        sys.unsubscribe("X", print)
        note("sys_pub", rawequal(_G.sys_pub, sys.publish))
        sys.run()
        assert.same({ n = 0 }, seen.wait0)
        assert.same({ n = 0 }, seen.wait_neg)
        assert.same({ n = 1, false }, seen.until0)
        assert.same({ n = 1, false }, seen.until_timeout)
        assert.same({ n = 1, false }, seen.ext_timeout)
        assert.same({ n = 0 }, seen.wait_timeout)
        -- message timers are numbered above the task timers' 0x1FFFFF
        assert.same({ n = 1, 0x200000 }, seen.first_timer_id)
        assert.same({ n = 1, "function" }, seen.active_by_id)
        assert.same({ n = 0 }, seen.active_by_fn_none)
        assert.same({ n = 1, nil }, seen.inactive_by_id)
        assert.same({ n = 0 }, seen.timer_zero)
        assert.same({ n = 0 }, seen.subscribe)
        assert.same({ n = 1, true }, seen.sys_pub)
    end)

    it("taskInit resumes the task at once and returns it", function()
        local ran
        local co = sys.taskInit(function(a, b) ran = a + b end, 1, 2)
        assert.equal(3, ran)
        assert.equal("dead", coroutine.status(co))
    end)

    it("wait lets time pass; a message resumes a waiting task early with its values", function()
        local host = require "fota.host"
        local t0, waited, early
        sys.taskInit(function()
            t0 = host.ms()
            sys.wait(30)
            waited = host.ms() - t0
            early = table.pack(sys.waitUntil("GO", 5000))
        end)
        sys.timerStart(sys.publish, 60, "GO", "x", 2)
        sys.run()
        assert.is_true(waited >= 30)
        assert.same({ n = 3, true, "x", 2 }, early)
    end)

    it("wait outside a task is an error", function()
        assert.has_error(function() sys.wait(10) end)
    end)

    it("publish only queues; functions get the arguments, tasks the id too", function()
        local got, res = {}, nil
        sys.subscribe("EV", function(...) got[#got + 1] = table.pack(...) end)
        local co = coroutine.create(function() res = table.pack(coroutine.yield()) end)
        coroutine.resume(co)
        sys.subscribe("EV", co)
        sys.publish("EV", 1, nil, "x")
        assert.equal(0, #got)
        sys.run()
        assert.same({ n = 3, 1, nil, "x" }, got[1])
        assert.same({ n = 4, "EV", 1, nil, "x" }, res)
    end)

    it("subscribe takes a table of ids and a callback once per id", function()
        local calls = 0
        local function cb() calls = calls + 1 end
        sys.subscribe({ "A", "B" }, cb)
        sys.subscribe("A", cb)
        sys.publish("A")
        sys.publish("B")
        sys.run()
        assert.equal(2, calls)
        sys.unsubscribe({ "A", "B" }, cb)
        sys.unsubscribe("NEVER_SUBSCRIBED", cb)
        sys.publish("A")
        sys.run()
        assert.equal(2, calls)
    end)

    it("waitUntilExt gives the id and arguments; waitUntilMsg the arguments", function()
        local a, b
        sys.taskInit(function() a = table.pack(sys.waitUntilExt("GO", 1000)) end)
        sys.taskInit(function() b = table.pack(sys.waitUntilMsg("GO")) end)
        sys.publish("GO", 5)
        sys.run()
        assert.same({ n = 2, "GO", 5 }, a)
        assert.same({ n = 1, 5 }, b)
    end)

    it("a timer of the same function and arguments replaces the old one", function()
        local calls = 0
        local function f() calls = calls + 1 end
        local id1 = sys.timerStart(f, 10, "a")
        local id2 = sys.timerStart(f, 10, "a")
        sys.timerStart(f, 10, "b")
        local id3 = sys.timerStart(f, 10)
        local id4 = sys.timerStart(f, 10)
        assert.is_nil(sys.timerIsActive(id1))
        assert.equal(f, sys.timerIsActive(id2))
        assert.is_nil(sys.timerIsActive(id3))
        assert.equal(f, sys.timerIsActive(id4))
        assert.is_true(sys.timerIsActive(f, "b"))
        sys.run()
        assert.equal(3, calls)
    end)

    it("timerStop by id, by function and arguments, and timerStopAll", function()
        local calls = 0
        local function f() calls = calls + 1 end
        local id = sys.timerStart(f, 10, 1)
        sys.timerStop(id)
        sys.timerStart(f, 10, 2)
        sys.timerStop(f, 2)
        sys.timerLoopStart(f, 10, 3)
        sys.timerLoopStart(f, 10, 4)
        assert.is_true(sys.timerIsActive(f, 4))
        sys.timerStopAll(f)
        assert.is_nil(sys.timerIsActive(f, 3))
        sys.run()
        assert.equal(0, calls)
    end)

    it("timerLoopStart fires until stopped; timerAdvStart(fn, ms, n) fires n + 1 times", function()
        local seen, adv = {}, 0
        local id
        id = sys.timerLoopStart(function(x)
            seen[#seen + 1] = x
            if #seen == 4 then sys.timerStop(id) end
        end, 5, "arg")
        local aid = sys.timerAdvStart(function() adv = adv + 1 end, 5, 2)
        assert.is_truthy(sys.timerIsActive(aid))
        sys.run()
        assert.same({ "arg", "arg", "arg", "arg" }, seen)
        assert.equal(3, adv)
        assert.is_nil(sys.timerIsActive(aid))
    end)

    it("an error in a task is logged, other tasks go on, and the script ends 500 ms later", function()
        local log, lines = capture_log()
        _G.log = log
        local host = require "fota.host"
        local ticks, t0 = 0, host.ms()
        sys.timerLoopStart(function() ticks = ticks + 1 end, 20)
        sys.taskInit(function() sys.wait(5) error("boom") end)
        local ok, err = pcall(sys.run)
        assert.is_false(ok)
        assert.truthy(tostring(err):find("boom", 1, true), err)
        assert.is_true(host.ms() - t0 >= 500)
        assert.is_true(ticks >= 10)   -- the other timers kept running meanwhile
        assert.truthy(table.concat(lines):find("E/user.coroutine.resume", 1, true), table.concat(lines))
    end)

    it("with COROUTINE_ERROR_ROLL_BACK and _RESTART false, an error is only logged", function()
        local log, lines = capture_log()
        _G.log = log
        _G.COROUTINE_ERROR_ROLL_BACK, _G.COROUTINE_ERROR_RESTART = false, false
        local after
        sys.taskInit(function() sys.wait(5) error("boom") end)
        sys.taskInit(function() sys.wait(30) after = true end)
        sys.run()
        assert.is_true(after)
        assert.truthy(table.concat(lines):find("boom", 1, true))
    end)

    it("sysplus: taskInitEx, sendMsg, waitMsg, cleanMsg with LuatOS's return values", function()
        assert.equal(sys.taskInitEx, sysplus.taskInitEx)
        assert.equal(sys_send, sysplus.sendMsg)          -- luacheck: ignore 113
        local got, other = {}, {}
        sys.taskInitEx(function()
            got.first = sys.waitMsg("T", "WANT")
            got.timeout = table.pack(sys.waitMsg("T", "WANT", 20))
            got.any = sys.waitMsg("T")
        end, "T", function(msg) other[#other + 1] = msg[1] end)
        assert.is_false(sys.sendMsg("NOBODY", "x"))
        assert.is_false(sys.cleanMsg("NOBODY"))
        assert.is_false(sys.waitMsg("NOBODY"))
        assert.is_true(sys.sendMsg("T", "SKIP"))
        assert.is_true(sys.sendMsg("T", "WANT", 1, 2))
        sys.timerStart(sys.sendMsg, 60, "T", "LATE")
        sys.run()
        assert.same({ "WANT", 1, 2 }, got.first)
        assert.same({ n = 1, nil }, got.timeout)
        assert.same({ "LATE" }, got.any)
        assert.same({ "SKIP" }, other)
        assert.is_true(sys.cleanMsg("T"))
    end)

    it("sys_cw: wait returns the given results at once, or the message's", function()
        local a, b
        sys.taskInit(function()
            a = table.pack(_G.sys_cw("ID", 1, 2).wait())
            b = table.pack(_G.sys_cw("ID2").wait())
        end)
        sys.publish("ID2", "r")
        sys.run()
        assert.same({ n = 2, 1, 2 }, a)
        assert.same({ n = 1, "r" }, b)
    end)
end)

describe("rtos natives under a sys that is not ours", function()
    -- A minimal scheduler written only against rtos.timer_start/timer_stop/
    -- receive, the way a project's own sys.lua is.
    local function minimal_sys(rtos)
        local s, pool, next_id = {}, {}, 100
        function s.timerStart(fn, ms)
            next_id = next_id + 1
            if rtos.timer_start(next_id, ms, 0) ~= 1 then return nil end
            pool[next_id] = fn
            return next_id
        end
        function s.timerLoop(fn, ms, n)
            next_id = next_id + 1
            assert(rtos.timer_start(next_id, ms, n) == 1)
            pool[next_id] = fn
            return next_id
        end
        function s.stop(id) rtos.timer_stop(id) pool[id] = nil end
        function s.run(turns)
            local msgs = {}
            for _ = 1, turns do
                local msg, id, left = rtos.receive(200)
                msgs[#msgs + 1] = { msg, id, left }
                if msg == rtos.MSG_TIMER and pool[id] then
                    local fn = pool[id]
                    if left == 0 then pool[id] = nil end
                    fn()
                end
            end
            return msgs
        end
        return s
    end

    it("timer_start/receive give MSG_TIMER, the id and the repeats left; -1 on timeout", function()
        T.fresh("simbus")
        local rtos = T.fresh("rtos")
        assert.equal(-1, rtos.INF_TIMEOUT)
        local s = minimal_sys(rtos)
        local order = {}
        assert.is_nil(s.timerStart(function() end, 0))
        s.timerStart(function() order[#order + 1] = "once" end, 10)
        s.timerLoop(function() order[#order + 1] = "loop" end, 15, 1)   -- fires twice
        local stopped = s.timerStart(function() order[#order + 1] = "stopped" end, 5)
        s.stop(stopped)
        local msgs = s.run(4)
        assert.same({ "once", "loop", "loop" }, order)
        assert.same({ rtos.MSG_TIMER, 102, 0 }, msgs[1])
        assert.same({ rtos.MSG_TIMER, 103, 1 }, msgs[2])
        assert.same({ rtos.MSG_TIMER, 103, 0 }, msgs[3])
        assert.same({ -1 }, msgs[4])
    end)

    it("an event posted by the simulator runs inside receive and returns nothing", function()
        local simbus = T.fresh("simbus")
        local rtos = T.fresh("rtos")
        local hit
        simbus.post(5, function(x) hit = x end, "up")
        assert.same({ n = 0 }, table.pack(rtos.receive(100)))
        assert.equal("up", hit)
        assert.has_error(function() rtos.receive(rtos.INF_TIMEOUT) end)   -- nothing left: not on the desktop
    end)

    it("rtos.version(true), meminfo, mcu.ticks2 and hmeta answer as a module", function()
        local rtos = T.fresh("rtos")
        local v, n, bits = rtos.version(true)
        assert.truthy(v:match("^V%d+$"))
        assert.equal(tonumber(v:sub(2)), n)
        assert.equal(32, bits)
        local total, used, peak = rtos.meminfo()
        assert.is_true(total >= peak and peak >= used and used > 0)
        assert.equal(3, select("#", rtos.meminfo("sys")))
        local mcu = T.fresh("mcu")
        local hi, lo = mcu.ticks2(1)
        assert.equal(0, hi)
        assert.is_true(lo >= 0 and lo < 1000000)
        local hmeta = T.fresh("hmeta")
        assert.equal("Air780E", hmeta.model())
        assert.equal("EC618", hmeta.chip())
    end)
end)
