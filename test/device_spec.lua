local T = require "testutil"

describe("simulated device", function()
    local simdevice
    before_each(function()
        simdevice = T.fresh("simdevice")
        T.fresh("rtos"); T.fresh("mobile"); T.fresh("mcu")
    end)

    it("derives a stable, Luhn-valid 15-digit IMEI from the device name", function()
        local a = simdevice.imei_for("dev1")
        assert.equal(15, #a)
        assert.is_true(simdevice.luhn_valid(a))
        assert.equal(a, simdevice.imei_for("dev1"))
        assert.not_equal(a, simdevice.imei_for("dev2"))
        assert.is_true(simdevice.luhn_valid("490154203237518"))  -- a published example
        assert.is_false(simdevice.luhn_valid("490154203237519"))
    end)

    it("keeps its profile across opens and feeds rtos, mobile and mcu", function()
        local dir = T.tmpdir("dev") .. "/unit7"
        local p = simdevice.open(dir, { core = "V1104" })
        assert.equal("V1104", p.core)
        local rtos, mobile, mcu = require "rtos", require "mobile", require "mcu"
        assert.equal("V1104", rtos.version())
        assert.equal("EC618", rtos.bsp())
        assert.equal("LuatOS-SoC_V1104_EC618", rtos.firmware())
        assert.equal(simdevice.imei_for("unit7"), mobile.imei())
        assert.equal(8, #mcu.unique_id())
        -- defaults only apply to a new profile
        simdevice = T.fresh("simdevice")
        assert.equal("V1104", simdevice.open(dir, { core = "V2000" }).core)
    end)

    it("refuses a profile with a bad IMEI or core version", function()
        local dir = T.tmpdir("badprof")
        T.write(dir .. "/profile.lua", 'return { imei = "123456789012345" }')
        assert.has_error(function() simdevice.open(dir) end)
        local dir2 = T.tmpdir("badcore")
        assert.has_error(function() simdevice.open(dir2, { core = "1103" }) end)
    end)

    it("maps module paths into the device", function()
        local dir = T.tmpdir("paths")
        simdevice.open(dir)
        assert.equal(dir .. "/fs/a.txt", simdevice.path("/a.txt"))
        assert.equal("proj/x.lua", simdevice.path("/luadb/x.lua", "proj"))
        assert.equal("rel.txt", simdevice.path("rel.txt"))
    end)
end)
