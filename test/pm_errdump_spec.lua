-- pm and errDump: a desktop's no-op stand-ins with a module's results.
describe("pm", function()
    local pm = require "pm"

    it("returns what a module returns when the call succeeds", function()
        assert.equal(4, pm.HIB)
        assert.equal(0, pm.USB)
        assert.equal(6, pm.WORK_MODE)
        assert.is_true(pm.request(pm.LIGHT))
        assert.equal(0, pm.force(pm.HIB))
        assert.same({ true, 0 }, { pm.check() })
        assert.is_true(pm.power(pm.USB, false))
        assert.is_true(pm.power(pm.WORK_MODE, 1))
        assert.is_true(pm.ioVol(pm.IOVOL_ALL_GPIO, 3300))
        assert.is_true(pm.dtimerStart(0, 300000))
        assert.is_false(pm.dtimerCheck(0))
        assert.same({}, pm.dtimerList())
        assert.equal(-1, pm.dtimerWkId())
        assert.same({ 0, 0, 0 }, { pm.lastReson() })
        assert.equal(0, select("#", pm.shutdown()))
    end)

    it("bad arguments are errors naming the argument", function()
        assert.has_error(function() pm.request() end, "bad argument #1 to 'request' (number expected, got no value)")
        assert.has_error(function() pm.request(1.5) end,
            "bad argument #1 to 'request' (number has no integer representation)")
        assert.has_error(function() pm.power("usb") end, "bad argument #1 to 'power' (number expected, got string)")
        assert.has_error(function() pm.dtimerStart(0) end,
            "bad argument #2 to 'dtimerStart' (number expected, got no value)")
    end)
end)

describe("errDump", function()
    local zbuff = require "fota.zbuff"
    local errdump

    before_each(function()
        package.loaded.errdump = nil
        errdump = require "errdump"
    end)

    it("config uploads nothing; record and dump keep the user log as a module does", function()
        assert.equal(0, select("#", errdump.config(true, 3600, "12345678")))
        assert.is_false(errdump.dump(nil, errdump.TYPE_USR))   -- nothing recorded yet
        errdump.record("socket long time no connect")
        errdump.record("")
        local buff = zbuff.create(4)
        assert.is_true(errdump.dump(buff, errdump.TYPE_USR, false))
        assert.equal("socket long time no connect", buff:toStr(0, buff:used()))
        assert.is_false(errdump.dump(buff, errdump.TYPE_USR))   -- read already
        assert.is_false(errdump.dump(nil, errdump.TYPE_USR, true))
        errdump.dump(buff, errdump.TYPE_USR)
        assert.equal(0, buff:used())                             -- deleted
        assert.is_false(errdump.dump(buff, errdump.TYPE_SYS))    -- no system log on a desktop
        assert.is_true(errdump.dump(nil, 7))
    end)

    it("keeps only the last 4 KB", function()
        errdump.record(string.rep("a", 4000))
        errdump.record(string.rep("b", 200))
        local buff = zbuff.create(1)
        errdump.dump(buff)
        local log = buff:toStr(0, buff:used())
        assert.equal(4096, #log)
        assert.equal(string.rep("b", 200), log:sub(-200))
    end)

    it("bad arguments are errors naming the argument", function()
        assert.has_error(function() errdump.dump("x") end, "bad argument #1 to 'dump' (zbuff expected, got string)")
        assert.has_error(function() errdump.dump(nil, "sys") end,
            "bad argument #2 to 'dump' (number expected, got string)")
    end)
end)
