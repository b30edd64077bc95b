local T = require "testutil"

describe("bin/luatos-sim", function()
    it("boots demo/hello, which ticks, reboots once and goes idle", function()
        local dev = T.tmpdir("sim") .. "/hello-dev"
        local out, status = T.run("bin/luatos-sim demo/hello --device " .. dev)
        assert.equal(0, status, out)
        assert.truthy(out:find("boot 1:", 1, true), out)
        assert.truthy(out:find("rtos.reboot() -> boot 2", 1, true), out)
        assert.truthy(out:find("boot 2:", 1, true), out)
        assert.truthy(out:find("I/user.timer tick 3", 1, true), out)
        assert.truthy(out:find("second boot done", 1, true), out)
        assert.is_nil(out:find("boot 3:", 1, true), out)
        assert.equal("2", T.read(dev .. "/fs/boot_count"))
        local simdevice = require "simdevice"
        assert.truthy(out:find("imei " .. simdevice.imei_for("hello-dev"), 1, true), out)
    end)

    it("stops a project that reboots forever after --max-boots", function()
        local proj = T.tmpdir("looper")
        T.write(proj .. "/main.lua", 'PROJECT="loop" VERSION="1.0.0" rtos.reboot()')
        local out, status = T.run("bin/luatos-sim " .. proj .. " --max-boots 3 --device " ..
            T.tmpdir("looper-dev") .. "/d")
        assert.equal(0, status, out)
        assert.truthy(out:find("stopped after 3 boots", 1, true), out)
    end)

    it("a task error ends the Lua VM 500 ms later and the module reboots, as on LuatOS", function()
        local proj = T.tmpdir("broken")
        T.write(proj .. "/main.lua",
            'sys.taskInit(function() sys.wait(5) error("kaput") end)\nsys.run()')
        local out, status = T.run("bin/luatos-sim " .. proj .. " --device " .. T.tmpdir("broken-dev") ..
            "/d --max-boots 2 --exit-reboot-delay 50")
        assert.equal(1, status, out)   -- still failing when --max-boots stopped it
        assert.truthy(out:find("E/user.coroutine.resume", 1, true), out)
        assert.truthy(out:find("kaput", 1, true), out)
        assert.truthy(out:find("Lua VM exit!! reboot in 50ms", 1, true), out)
        assert.truthy(out:find("luatos-sim: Lua VM exit -> boot 2", 1, true), out)
        assert.truthy(out:find("stopped after 2 boots", 1, true), out)
    end)

    it("a main.lua that ends without sys.run ends the Lua VM; one that errors at load too", function()
        local proj = T.tmpdir("norun")
        T.write(proj .. "/main.lua", 'log.info("main", "no loop")')
        local out, status = T.run("bin/luatos-sim " .. proj .. " --device " .. T.tmpdir("norun-dev") ..
            "/d --max-boots 1 --exit-reboot-delay 0")
        assert.equal(1, status, out)
        assert.truthy(out:find("Lua VM exit!! reboot in 0ms", 1, true), out)
        T.write(proj .. "/main.lua", 'this is not lua')
        out, status = T.run("bin/luatos-sim " .. proj .. " --device " .. T.tmpdir("norun-dev") ..
            "/d --max-boots 1 --exit-reboot-delay 0")
        assert.equal(1, status, out)
        assert.truthy(out:find("E/user.main Luat:", 1, true), out)
    end)

    it("explains bad usage", function()
        local out, status = T.run("bin/luatos-sim")
        assert.equal(2, status)
        assert.truthy(out:find("usage", 1, true))
        out, status = T.run("bin/luatos-sim /nonexistent")
        assert.equal(2, status)
        assert.truthy(out:find("main.lua not found", 1, true))
    end)
end)
