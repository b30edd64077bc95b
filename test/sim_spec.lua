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
        local out, status = T.run("bin/luatos-sim " .. proj .. " --max-boots 3 --device " .. proj .. "/dev")
        assert.equal(0, status, out)
        assert.truthy(out:find("stopped after 3 boots", 1, true), out)
    end)

    it("exits 1 with the traceback when the script fails", function()
        local proj = T.tmpdir("broken")
        T.write(proj .. "/main.lua",
            'local sys = require "sys"\nsys.taskInit(function() sys.wait(5) error("kaput") end)\nsys.run()')
        local out, status = T.run("bin/luatos-sim " .. proj .. " --device " .. proj .. "/dev")
        assert.equal(1, status, out)
        assert.truthy(out:find("kaput", 1, true), out)
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
