-- LuatOS-style FOTA scripts, unchanged, in the simulator against a loopback
-- server: the same callbacks and return values as on a module, and a reboot
-- into the new script.
local T = require "testutil"

describe("LuatOS compatibility scripts", function()
    local srv, pkg_for

    setup(function()
        pkg_for = T.next_release
        srv = T.start_server({ package = "" })
    end)
    teardown(function() srv.stop() end)

    local function sim(dir, env, dev)
        dev = dev or (T.tmpdir("compat-dev") .. "/d")
        local out, status = T.run(string.format("%s bin/luatos-sim %s --device %s --max-boots 3 --confirm-after 0",
            env or "", dir, dev))
        return out, status, dev
    end

    it("http.request(...).wait() with fota = true stages a package isDone reports done", function()
        T.write(srv.dir .. "/package.bin", pkg_for("test/compat/http_fota"))
        local out, status = sim("test/compat/http_fota", "COMPAT_URL=" .. srv.url("/pkg"))
        assert.equal(0, status, out)
        assert.truthy(out:find("I/user.compat http 200 table %d+"), out)
        assert.truthy(out:find("isDone true true", 1, true), out)
        assert.truthy(out:find("staged package applied at boot: ok", 1, true), out)
        assert.truthy(out:find("UPGRADED 1.0.2 V1104", 1, true), out)
    end)

    it("http fota mode: a download cut in one boot resumes in the next, reported as 200", function()
        T.write(srv.dir .. "/package.bin", pkg_for("test/compat/http_fota"))
        local dev = T.tmpdir("compat-resume") .. "/d"
        local out = sim("test/compat/http_fota", "COMPAT_URL=" .. srv.url("/cut"), dev)
        assert.truthy(out:find("I/user.compat http -5", 1, true), out)
        out = sim("test/compat/http_fota", "COMPAT_URL=" .. srv.url("/cut"), dev)
        assert.truthy(out:find("I/user.compat http 200 table %d+"), out)
        assert.truthy(srv.requests():find("GET /cut|bytes=%d+%-|"), srv.requests())
        assert.truthy(out:find("UPGRADED 1.0.2 V1104", 1, true), out)
    end)

    it("http fota mode answers -9 with the JSON body for a no-upgrade status", function()
        local out = sim("test/compat/http_fota", "COMPAT_URL=" .. srv.url("/latest"))
        assert.truthy(out:find('http -9 table {"code":27,"msg":"already latest"}', 1, true), out)
    end)

    it("libfota2 with an options table (demo/fota2 style)", function()
        T.write(srv.dir .. "/package.bin", pkg_for("test/compat/fota2"))
        local out, status = sim("test/compat/fota2", "COMPAT_URL=" .. srv.url("/pkg"))
        assert.equal(0, status, out)
        assert.truthy(out:find("I/user.fota result 0", 1, true), out)
        assert.truthy(out:find("UPGRADED 1.0.2 V1104", 1, true), out)
        local want = "&project_key=compatkey&firmware_name=compat_LuatOS-SoC_EC618&version=1103.1.1|"
        assert.truthy(srv.requests():find(want, 1, true), srv.requests())
    end)

    it("a package fed to fota.run through a zbuff, in pieces", function()
        local dev = T.tmpdir("compat-uart") .. "/d"
        -- first boot flashes the device and finds no package yet
        local out = sim("test/compat/uart_fota", nil, dev)
        assert.truthy(out:find("no package", 1, true), out)
        T.write(dev .. "/fs/update.fota", pkg_for("test/compat/uart_fota"))
        out = sim("test/compat/uart_fota", nil, dev)
        assert.truthy(out:find("package complete", 1, true), out)
        assert.truthy(out:find("UPGRADED 1.0.2 V1104", 1, true), out)
    end)

    it("a project in LuatOS's demo style: global sys, a library in a subfolder, IP_READY, hmeta, fskv", function()
        T.write(srv.dir .. "/package.bin", pkg_for("test/compat/luatos_style"))
        local out, status = sim("test/compat/luatos_style", "COMPAT_URL=" .. srv.url("/pkg"))
        assert.equal(0, status, out)
        assert.truthy(out:find("I/user.compat boot 1 model Air780E md5 " .. ("[0-9A-F]"):rep(32), 1), out)
        assert.truthy(out:find("IP_READY true 127.0.0.1 true status 1", 1, true), out)
        assert.truthy(out:find("I/user.fota result 0", 1, true), out)
        -- the boot counter in fskv survived the upgrade
        assert.truthy(out:find("UPGRADED 1.0.2 V1104 boots 2", 1, true), out)
    end)

    it("a project that ships its own sys.lua runs it, and libfota upgrades on top of it", function()
        T.write(srv.dir .. "/package.bin", pkg_for("test/compat/own_sys"))
        local out, status = sim("test/compat/own_sys", "COMPAT_URL=" .. srv.url("/pkg"))
        assert.equal(0, status, out)
        assert.truthy(out:find("I/user.compat own sys true", 1, true), out)
        assert.truthy(out:find("the project's own sys.lua runs the loop", 1, true), out)
        assert.truthy(out:find("I/user.fota result 0", 1, true), out)
        assert.truthy(out:find("UPGRADED 1.0.2 V1104 own sys true", 1, true), out)
    end)

    it("the fota_uart pattern: a host tool sends the package over the UART's pseudo-terminal", function()
        local socket = require "socket"
        local work = T.tmpdir("compat-pty")
        local link, outf = work .. "/uart1", work .. "/out"
        local pkg = pkg_for("test/compat/uart_pty")
        local p = io.popen(string.format("bin/luatos-sim test/compat/uart_pty --device %s/d --max-boots 2 " ..
            "--confirm-after 0 --uart 1=%s >%s 2>&1 & echo $!", work, link, outf))
        local pid = p:read("l")
        p:close()
        local tty
        for _ = 1, 200 do
            tty = io.open(link, "r+b")   -- never "w": that would create a plain file before the link
            if tty then break end
            socket.sleep(0.05)
        end
        assert(tty, "no pty at " .. link .. ": " .. tostring(T.read(outf)))
        for i = 1, #pkg, 1000 do
            tty:write(pkg:sub(i, i + 999))
            tty:flush()
            socket.sleep(0.01)
        end
        tty:close()
        local out
        for _ = 1, 300 do
            out = T.read(outf) or ""
            if out:find("idle: no timer", 1, true) then break end
            socket.sleep(0.05)
        end
        os.execute("kill " .. pid .. " 2>/dev/null")
        assert.truthy(out:find("luatos-sim: uart 1 is /dev/pts/", 1, true), out)
        assert.truthy(out:find("package complete true true " .. #pkg, 1, true), out)
        assert.truthy(out:find("UPGRADED 1.0.2 V1104", 1, true), out)
    end)

    it("--offline: IP_READY never comes and a request fails as connect failed (1)", function()
        local proj = T.tmpdir("compat-offline")
        T.write(proj .. "/main.lua", table.concat({
            'PROJECT = "compat"', 'VERSION = "1.0.1"', 'local libfota = require "libfota"',
            'sys.taskInit(function()',
            '    log.info("compat", "ip", sys.waitUntil("IP_READY", 300), mobile.status(), socket.adapter())',
            '    libfota.request(function(r) log.info("compat", "result", r) end, "' .. srv.url("/pkg") ..
                '", nil, nil, nil, nil, 500)',
            'end)', 'sys.run()' }, "\n"))
        local out, status = T.run("bin/luatos-sim " .. proj .. " --offline --device " ..
            T.tmpdir("compat-offline-dev") .. "/d")
        assert.equal(0, status, out)
        assert.truthy(out:find("I/user.compat ip false 0 false", 1, true), out)
        assert.truthy(out:find("I/user.compat result 1", 1, true), out)
        assert.truthy(out:find("offline (--offline)", 1, true), out)
    end)

    it("an edited project is flashed again; an upgraded device keeps its upgrade", function()
        local proj, dev = T.tmpdir("compat-edit"), T.tmpdir("compat-edit-dev") .. "/d"
        T.write(proj .. "/main.lua", 'PROJECT = "compat" VERSION = "1.0.1" log.info("compat", "first") sys.run()')
        local out = T.run("bin/luatos-sim " .. proj .. " --device " .. dev)
        assert.truthy(out:find("I/user.compat first", 1, true), out)
        T.write(proj .. "/main.lua", 'PROJECT = "compat" VERSION = "1.0.1" log.info("compat", "edited") sys.run()')
        out = T.run("bin/luatos-sim " .. proj .. " --device " .. dev)
        assert.truthy(out:find("the project changed since it was flashed: flashing it again", 1, true), out)
        assert.truthy(out:find("I/user.compat edited", 1, true), out)
        -- an over-the-air upgrade, then another edit: the upgrade stays
        T.write(dev .. "/fs/update.fota", pkg_for("test/compat/uart_fota"))
        out = sim("test/compat/uart_fota", nil, dev)
        assert.truthy(out:find("UPGRADED 1.0.2 V1104", 1, true), out)
        T.write(proj .. "/main.lua", 'PROJECT = "compat" VERSION = "1.0.1" log.info("compat", "again") sys.run()')
        out = T.run("bin/luatos-sim " .. proj .. " --device " .. dev)
        assert.truthy(out:find("run with --flash to flash the project", 1, true), out)
        assert.is_nil(out:find("I/user.compat again", 1, true), out)
    end)

    it("gives LuatOS-like errors for wrong types, not crashes", function()
        local http = T.fresh("http")
        assert.has_error(function() http.request(123, "http://x") end,
            "bad argument #1 to 'request' (string expected, got number)")
        assert.has_error(function() http.request("GET", "http://x", nil, nil, { timeout = "soon" }) end)
        assert.has_error(function() http.request("GET", "http://x", "headers") end)
        local zbuff = T.fresh("fota.zbuff")
        assert.has_error(function() zbuff.create(0) end)
        local b = zbuff.create(4)
        assert.equal(4, b:write("123456"))
        assert.equal(4, b:used())
        assert.has_error(function() b[9] = 1 end)
        local fota = T.fresh("fota")
        assert.has_error(function() fota.run({}) end)
    end)

    it("http.request with dst saves the body and returns its size; unknown options are ignored", function()
        local dir = T.tmpdir("compat-dst")
        local sys = T.device(dir)
        local http = T.fresh("http")
        T.write(srv.dir .. "/package.bin", "hello, file")
        local got
        sys.taskInit(function()
            got = table.pack(http.request("GET", srv.url("/pkg"), nil, nil,
                { dst = dir .. "/out.bin", no_such_option = 1 }).wait())
        end)
        sys.run()
        assert.equal(200, got[1])
        assert.equal(11, got[3])
        assert.equal("hello, file", T.read(dir .. "/out.bin"))
        sys.taskInit(function()
            got = table.pack(http.request("GET", srv.url("/pkg"), nil, nil, { dst = "/x", fota = true }).wait())
        end)
        sys.run()
        assert.equal(-4, got[1])
    end)
end)
