-- LuatOS-style FOTA scripts, unchanged, in the simulator against a loopback
-- server: the same callbacks and return values as on a module, and a reboot
-- into the new script.
local T = require "testutil"

describe("LuatOS compatibility scripts", function()
    local srv, pkg_for

    setup(function()
        pkg_for = function(dir)
            local src = T.read(dir .. "/main.lua"):gsub('VERSION = "1.0.1"', 'VERSION = "1.0.2"')
            return T.make_package({ project = "compat", version = "1.0.2", core = "V1104", script = src })
        end
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
        local want = "GET /pkg?project_key=compatkey&firmware_name=compat_LuatOS-SoC_EC618&version=1103.1.1&imei="
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
