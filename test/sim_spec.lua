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

    it("a LuatOS project with its own update.lua stays LuatOS; --air and --luatos decide", function()
        local proj = T.tmpdir("ownupdate")
        -- the libfota2 demos' layout: main.lua requires the project's own update.lua
        T.write(proj .. "/main.lua", 'PROJECT = "FOTA2_DEMO"\nVERSION = "001.000.000"\n'
            .. 'log.info("main", "air", rtos.get_version ~= nil)\nrequire "update"\n'
            .. 'sys.subscribe("IP_READY", function() log.info("main", "bsp", rtos.bsp(), "ip ready") end)\n'
            .. 'sys.timerStart(function() rtos.reboot() end, 700)\nsys.run()')
        T.write(proj .. "/update.lua", 'log.info("update", "own update.lua loaded")\nreturn {}')
        local function run(opts)
            return T.run("bin/luatos-sim " .. proj .. " --max-boots 1 --device " .. T.tmpdir("ownupdate-dev")
                .. "/d " .. opts)
        end
        local out = run("")
        assert.truthy(out:find("own update.lua loaded", 1, true), out)
        assert.truthy(out:find("bsp EC618 ip ready", 1, true), out)
        os.remove(proj .. "/update.lua")   -- now `require "update"` is LuatOS-Air's library
        assert.truthy(out:find("air false", 1, true), out)
        out = run("")
        assert.truthy(out:find("air true", 1, true), out)
        out = run("--luatos")
        assert.truthy(out:find("module 'update' not found", 1, true), out)
    end)

    it("has LuatOS's Lua 5.1 names, socket.setDNS, and names the hardware it does not simulate", function()
        local proj = T.tmpdir("compat")
        T.write(proj .. "/main.lua", table.concat({
            'local a, b = unpack({ 1, 2 })',
            'log.info("main", "unpack", a, b, "loadstring", loadstring("return 7")(), "maxn",',
            '    table.maxn({ [1] = 1, [9] = 2 }), "loaders", package.loaders == package.searchers)',
            'log.info("main", "dns", socket.setDNS(socket.LWIP_GP, 1, "223.5.5.5"), socket.setDNS(nil, 2, 0x72727272),',
            '    socket.setDNS(socket.LWIP_ETH, 1, "1.1.1.1"), socket.setDNS(nil, 3, "1.1.1.1"),',
            '    socket.setDNS(nil, 1, "256.1.1.1"), socket.getDNS(nil, 2))',
            'log.info("main", "i2c", i2c, i2c)',
            'log.info("main", "require", pcall(require, "airlink"))',
        }, "\n"))
        local out = T.run("bin/luatos-sim " .. proj .. " --max-boots 1 --exit-reboot-delay 0 --device "
            .. T.tmpdir("compat-dev") .. "/d")
        assert.truthy(out:find("unpack 1 2 loadstring 7 maxn 9 loaders true", 1, true), out)
        assert.truthy(out:find("dns true true false false false 114.114.114.114", 1, true), out)
        assert.truthy(out:find("i2c nil nil", 1, true), out)
        local _, told = out:gsub("module i2c is hardware this simulator does not provide", "")
        assert.equal(1, told, out)
        assert.truthy(out:find("module 'airlink' is hardware this simulator does not provide", 1, true), out)
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
