-- A LuatOS-Air project shipping its own library (module()-style sys.lua,
-- utils.lua, a ril.lua driving AT over uart.ATC): it boots in --air, its
-- AT commands are answered and the network registers (+CEREG URC).
local T = require "testutil"

describe("LuatOS-Air project with its own library", function()
    it("module() before its sys.lua; ril over uart.ATC; +CEREG when the network is up", function()
        local dev = T.tmpdir("airlib-dev") .. "/d"
        local out = T.run("bin/luatos-sim test/compat/airlib --air --max-boots 1 --net-delay 100 --device " .. dev)
        assert.truthy(out:find("airlib imei\ttrue\t%d+"), out)
        assert.truthy(out:find("airlib iccid\ttrue\t%+ICCID: %d+"), out)
        assert.truthy(out:find('airlib urc\t+CEREG: 1,', 1, true), out)
        assert.truthy(out:find("airlib csq\ttrue\t+CSQ: 25,99", 1, true), out)
        assert.truthy(out:find("GPIO1 output 0", 1, true), out)
    end)
end)

describe("LuatOS-Air upgrade through rtos.fota_start/fota_process/fota_end over socketcore", function()
    local srv
    setup(function()
        local files = {}
        for _, f in ipairs({ "sys.lua", "utils.lua", "ril.lua", "upd.lua" }) do
            files[f] = T.read("test/compat/airlib/" .. f)
        end
        local main = T.read("test/compat/airlib/main.lua"):gsub('VERSION = "1.0.0"', 'VERSION = "1.0.1"')
        srv = T.start_server({ package = T.make_package({ project = "AIRLIB", bsp = "RDA8910", version = "1.0.1",
            core = false, script = main, files = files }), lifetime = 60 })
    end)
    teardown(function() srv.stop() end)

    it("stages a verified package, the next boot runs it and keeps it, the same release is refused", function()
        local dev = T.tmpdir("airlib-up") .. "/d"
        local out, status = T.run("AIRLIB_URL=" .. srv.url("/pkg") .. " bin/luatos-sim test/compat/airlib --air " ..
            "--max-boots 3 --net-delay 100 --device " .. dev)
        assert.equal(0, status, out)
        local b1, b2 = out:find("boot 1:", 1, true), out:find("boot 2:", 1, true)
        assert.truthy(b1 and b2, out)
        local first, second = out:sub(b1, b2), out:sub(b2)
        assert.truthy(first:find("upd status\t206", 1, true) or first:find("upd status\t200", 1, true), out)
        assert.truthy(first:find("package 1.0.1 staged, applied at the next boot", 1, true), out)
        assert.truthy(first:find("upd fota_end\t0\ttrue", 1, true), out)
        assert.truthy(second:find("/luazip/update.bin applied", 1, true) or
            out:sub(1, b2):find("/luazip/update.bin applied", 1, true), out)
        assert.truthy(second:find("script 1.0.1", 1, true), out)
        assert.truthy(second:find("new image confirmed: its scripts reached sys.run", 1, true), out)
        assert.truthy(second:find("package refused: same_release", 1, true), out)
        assert.truthy(second:find("upd fota_end\t-1\ttrue", 1, true), out)
        assert.falsy(out:find("boot 3:", 1, true), out)
        assert.falsy(out:find("rolled back", 1, true), out)
    end)
end)
