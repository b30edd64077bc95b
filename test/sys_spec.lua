local T = require "testutil"

describe("sys", function()
    local sys
    before_each(function() sys = T.fresh("sys") end)

    it("taskInit resumes the task at once and returns it", function()
        local ran
        local co = sys.taskInit(function(a, b) ran = a + b end, 1, 2)
        assert.equal(3, ran)
        assert.equal("thread", type(co))
        assert.equal("dead", coroutine.status(co))
    end)

    it("wait returns nil on timeout and lets time pass", function()
        local host = require "fota.host"
        local t0, res, waited
        sys.taskInit(function()
            t0 = host.ms()
            res = table.pack(sys.wait(30))
            waited = host.ms() - t0
        end)
        assert.is_nil(waited)
        sys.run()
        assert.equal(0, res.n)
        assert.is_true(waited >= 30)
    end)

    it("wait outside a task is an error", function()
        assert.has_error(function() sys.wait(10) end, "sys.wait must be called inside a task (sys.taskInit)")
    end)

    it("publish only queues; delivery happens in run", function()
        local got = {}
        sys.subscribe("EV", function(...) got[#got + 1] = table.pack(...) end)
        sys.publish("EV", 1, nil, "x")
        assert.equal(0, #got)
        sys.run()
        assert.equal(1, #got)
        assert.same({ n = 3, 1, nil, "x" }, got[1])
    end)

    it("a coroutine subscriber gets the id and the arguments", function()
        local res
        local co = coroutine.create(function() res = table.pack(coroutine.yield()) end)
        coroutine.resume(co)
        sys.subscribe("EV", co)
        sys.publish("EV", 7)
        sys.run()
        assert.same({ n = 2, "EV", 7 }, res)
    end)

    it("waitUntil gives true and the arguments, or false on timeout", function()
        local a, b
        sys.taskInit(function() a = table.pack(sys.waitUntil("GO", 1000)) end)
        sys.taskInit(function() b = table.pack(sys.waitUntil("NEVER", 20)) end)
        sys.timerStart(sys.publish, 10, "GO", "x", 2)
        sys.run()
        assert.same({ n = 3, true, "x", 2 }, a)
        assert.same({ n = 1, false }, b)
    end)

    it("waitUntilExt gives the id and arguments, or false", function()
        local a, b
        sys.taskInit(function() a = table.pack(sys.waitUntilExt("GO", 1000)) end)
        sys.taskInit(function() b = table.pack(sys.waitUntilExt("NEVER", 20)) end)
        sys.publish("GO", 5)
        sys.run()
        assert.same({ n = 2, "GO", 5 }, a)
        assert.same({ n = 1, false }, b)
    end)

    it("waitUntil with no timeout waits for the message", function()
        local a
        sys.taskInit(function() a = table.pack(sys.waitUntil("LATE")) end)
        sys.timerStart(sys.publish, 40, "LATE")
        sys.run()
        assert.same({ n = 1, true }, a)
    end)

    it("timerStart returns an id, or nil when ms < 1", function()
        assert.is_number(sys.timerStart(function() end, 5))
        assert.is_nil(sys.timerStart(function() end, 0))
        assert.is_nil(sys.timerStart(function() end, -3))
        assert.has_error(function() sys.timerStart(function() end, 126322568) end)
    end)

    it("a timer with the same function and arguments replaces the old one", function()
        local calls = 0
        local function f() calls = calls + 1 end
        local id1 = sys.timerStart(f, 10, "a")
        local id2 = sys.timerStart(f, 10, "a")
        sys.timerStart(f, 10, "b")
        local id3 = sys.timerStart(f, 10)
        local id4 = sys.timerStart(f, 10)
        assert.is_false(sys.timerIsActive(id1))
        assert.is_true(sys.timerIsActive(id2))
        assert.is_false(sys.timerIsActive(id3))
        assert.is_true(sys.timerIsActive(id4))
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
        assert.is_false(sys.timerIsActive(f, 3))
        sys.run()
        assert.equal(0, calls)
    end)

    it("timerLoopStart fires until stopped and passes its arguments", function()
        local seen = {}
        local id
        id = sys.timerLoopStart(function(x)
            seen[#seen + 1] = x
            if #seen == 4 then sys.timerStop(id) end
        end, 5, "arg")
        sys.run()
        assert.same({ "arg", "arg", "arg", "arg" }, seen)
    end)

    it("timers keep running while a task waits", function()
        local ticks, done = 0, false
        local id = sys.timerLoopStart(function() ticks = ticks + 1 end, 5)
        sys.taskInit(function()
            sys.wait(60)
            sys.timerStop(id)
            done = true
        end)
        sys.run()
        assert.is_true(done)
        assert.is_true(ticks >= 3)
    end)

    it("an error inside a task is logged and re-raised", function()
        local log = T.fresh("log")
        local lines = {}
        log.output({ write = function(_, s) lines[#lines + 1] = s end, flush = function() end })
        _G.log = log
        sys.taskInit(function() sys.wait(5) error("boom") end)
        assert.has_error(function() sys.run() end)
        log.output()
        _G.log = nil
        assert.truthy(table.concat(lines):find("boom", 1, true))
    end)

    it("unsubscribe stops delivery", function()
        local calls = 0
        local function cb() calls = calls + 1 end
        sys.subscribe("EV", cb)
        sys.unsubscribe("EV", cb)
        sys.publish("EV")
        sys.run()
        assert.equal(0, calls)
    end)
end)
