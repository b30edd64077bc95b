-- libfota / libfota2 against a loopback fixture server: every callback code.
local T = require "testutil"

local PKG = T.make_package()

describe("libfota", function()
    local srv, dir, sys, libfota, libfota2

    setup(function() srv = T.start_server({ package = PKG }) end)
    teardown(function() srv.stop() end)

    before_each(function()
        dir = T.tmpdir("libfota")
        sys = T.device(dir)
        libfota = T.fresh("libfota")
        libfota2 = T.fresh("libfota2")
        _G.PROJECT, _G.VERSION, _G.PRODUCT_KEY = "demo", "1.2.3", "KEY123"
    end)
    after_each(function() _G.PROJECT, _G.VERSION, _G.PRODUCT_KEY = nil, nil, nil end)

    -- Runs one request to the end; returns the callback's arguments.
    local function request(...)
        local got
        libfota.request(function(code, info) got = { code = code, info = info } end, ...)
        sys.run()
        assert.is_table(got, "callback not called")
        return got.code, got.info
    end

    local function staged() return T.read(dir .. "/fota/stage.bin") end
    -- The package went into the slots; confirming lets the next one commit.
    local function installed()
        local st = fota.state()
        local ok = st.trying and st.running.version == "1.2.4" and st.running.core == "V1104"
        fota.confirm()
        return ok
    end

    it("stages a package served with 200 (code 0)", function()
        local code, info = request(srv.url("/pkg"))
        assert.equal(0, code)
        assert.equal(200, info.status)
        assert.is_true(installed())
        assert.is_nil(staged())   -- committed: the staging area is free again
    end)

    it("follows a redirect and reads a chunked body", function()
        assert.equal(0, (request(srv.url("/redirect"))))
        assert.is_true(installed())
        assert.equal(0, (request(srv.url("/chunked"))))
        assert.is_true(installed())
    end)

    it("resumes a cut download with Range and If-Range (code 3, then 0 via 206)", function()
        local code, info = request(srv.url("/cut"))
        assert.equal(3, code)
        assert.equal(-5, info.error)
        code, info = request(srv.url("/cut"))
        assert.equal(0, code)
        assert.equal(206, info.status)
        assert.equal(#PKG // 2, info.resumed)
        assert.is_true(installed())
        assert.truthy(srv.requests():find("GET /cut|bytes=" .. (#PKG // 2) .. "-|\"pkg-v1\"", 1, true))
    end)

    it("starts over when the package changed since the cut", function()
        assert.equal(3, (request(srv.url("/cut-changed"))))
        local code, info = request(srv.url("/cut-changed"))
        assert.equal(0, code)
        assert.equal(200, info.status)
        assert.equal(0, info.resumed)
        assert.is_true(installed())
    end)

    it("starts over when the server refuses the resume (416) or resumes from the wrong offset", function()
        for _, path in ipairs({ "/cut-416", "/cut-badrange" }) do
            assert.equal(3, (request(srv.url(path))))
            assert.equal(4, (request(srv.url(path))))
            local code, info = request(srv.url(path))
            assert.equal(0, code, path)
            assert.equal(0, info.resumed)
            assert.is_true(installed())
        end
    end)

    it("reports a >= 300 answer as 4 with the status and the platform's code", function()
        local code, info = request(srv.url("/latest"))
        assert.equal(4, code)
        assert.equal(404, info.status)
        assert.equal(27, info.code)
        assert.equal("already latest", info.msg)
        code, info = request(srv.url("/notfound"))
        assert.equal(4, code)
        assert.equal(404, info.status)
        assert.is_nil(info.code)
    end)

    it("keeps a committed upgrade when a later check answers no upgrade", function()
        assert.equal(0, (request(srv.url("/pkg"))))
        assert.equal(4, (request(srv.url("/latest"))))
        assert.is_true(installed())
    end)

    it("refuses a second commit before the first is confirmed (code 4)", function()
        assert.equal(0, (request(srv.url("/pkg"))))
        local code, info = request(srv.url("/pkg"))
        assert.equal(4, code)
        assert.equal("commit", info.error)
        assert.is_true(installed())
    end)

    it("gives 4 for an empty body, a broken response, a redirect loop and data that is no package", function()
        assert.equal(4, (request(srv.url("/empty"))))
        assert.equal(4, (request(srv.url("/garbage"))))
        local code, info = request(srv.url("/loop"))
        assert.equal(4, code)
        assert.equal(-2, info.error)
        code, info = request(srv.url("/notpkg"))
        assert.equal(4, code)
        assert.equal(-9, info.error)
        assert.is_nil(staged())
    end)

    it("gives 1 when the connection is refused", function()
        local s = require("socket").bind("127.0.0.1", 0)
        local _, port = s:getsockname()
        s:close()
        assert.equal(1, (request("http://127.0.0.1:" .. port .. "/pkg")))
    end)

    it("gives 2 for a malformed url", function()
        assert.equal(2, (request("ftp://example.com/x")))
        assert.equal(2, (request("http://")))
        assert.equal(2, (request("http://127.0.0.1:99999/x")))
        assert.equal(2, (request(42)))
    end)

    it("gives 5 without PRODUCT_KEY or with a VERSION that is not x.y.z", function()
        _G.PRODUCT_KEY = nil
        assert.equal(5, (request()))
        _G.PRODUCT_KEY = "K"
        for _, v in ipairs({ "1.0", "1.0.2a", " 1.0.2", "1.0.2 ", "a.b.c", "1..2" }) do
            _G.VERSION = v
            assert.equal(5, (request()))
        end
    end)

    it("asks the IoT platform with PRODUCT_KEY, firmware name, CORE.x.z and IMEI", function()
        local old = os.getenv
        os.getenv = function(k) -- luacheck: ignore
            if k == "LUAT_FOTA_IOT_URL" then return srv.url("/api/site/firmware_upgrade") end
            return old(k)
        end
        local ok, err = pcall(function()
            local code = request()
            assert.equal(0, code)
            -- LuatOS's libfota: its parameters in its order
            local want = "GET /api/site/firmware_upgrade?project_key=KEY123&imei=" .. mobile.imei()
                .. "&device_key=&firmware_name=demo_LuatOS-SoC_EC618&version=1103.1.3|"
            assert.truthy(srv.requests():find(want, 1, true), srv.requests())
            T.write(srv.dir .. "/latest", "1103.1.3\n")
            local info
            code, info = request()
            assert.equal(4, code)
            assert.equal(27, info.code)
            os.remove(srv.dir .. "/latest")
        end)
        os.getenv = old -- luacheck: ignore
        assert(ok, err)
    end)

    it("ends a stalled transfer at its timeout while timers keep running", function()
        local ticks = 0
        local id = sys.timerLoopStart(function() ticks = ticks + 1 end, 10)
        local got
        libfota.request(function(code, info)
            got = { code, info }
            sys.timerStop(id)
        end, srv.url("/slow"), nil, nil, nil, nil, 600)
        sys.run()
        assert.equal(4, got[1])
        assert.equal(-8, got[2].error)
        assert.is_true(ticks >= 5, "timer ticks during the transfer: " .. ticks)
    end)

    it("runs two requests one after the other, not interleaved", function()
        local codes = {}
        libfota.request(function(c) codes[#codes + 1] = c fota.confirm() end, srv.url("/pkg"))
        libfota.request(function(c) codes[#codes + 1] = c end, srv.url("/chunked"))
        sys.run()
        assert.same({ 0, 0 }, codes)
        assert.is_true(installed())
    end)

    it("works from sys.timerLoopStart", function()
        local codes = {}
        local function cb(c)
            codes[#codes + 1] = c
            fota.confirm()
            if #codes == 2 then sys.timerStopAll(libfota.request) end
        end
        -- a period longer than a request (each syncs its data several times)
        sys.timerLoopStart(libfota.request, 300, cb, srv.url("/pkg"))
        sys.run()
        assert.same({ 0, 0 }, codes)
    end)

    describe("libfota2", function()
        local function request2(opts)
            local got
            libfota2.request(function(code, info) got = { code, info } end, opts)
            sys.run()
            fota.confirm()
            return got[1], got[2]
        end

        it("uses a ### url as is and appends the query otherwise", function()
            assert.equal(0, (request2({ url = "###" .. srv.url("/pkg?x=1") })))
            assert.truthy(srv.requests():find("GET /pkg?x=1|", 1, true))
            local opts = { url = srv.url("/pkg"), imei = "490154203237518" }
            assert.equal(0, (request2(opts)))
            assert.equal(0, (request2(opts)))   -- the same table again: not modified
            assert.equal(srv.url("/pkg"), opts.url)
            -- LuatOS's libfota2 order, with the "?" LuatOS would have left out
            local want = "GET /pkg?imei=490154203237518&project_key=KEY123&firmware_name=demo_LuatOS-SoC_EC618"
                .. "&version=1103.1.3|"
            assert.truthy(srv.requests():find(want, 1, true), srv.requests())
        end)

        it("reports download progress to opts.callback", function()
            local calls, last = 0, nil
            local code = request2({ url = "###" .. srv.url("/pkg"), userdata = "ud",
                callback = function(content_len, body_len, ud)
                    calls = calls + 1
                    last = { content_len, body_len, ud }
                end })
            assert.equal(0, code)
            assert.is_true(calls >= 1)
            assert.same({ #PKG, #PKG, "ud" }, last)
        end)

        it("reports 5 at once without PRODUCT_KEY, and 4 with the platform code", function()
            _G.PRODUCT_KEY = nil
            local got
            libfota2.request(function(c) got = c end, { url = srv.url("/pkg") })
            assert.equal(5, got)
            local code, info = request2({ url = srv.url("/latest"), project_key = "P" })
            assert.equal(4, code)
            assert.equal(27, info.code)
        end)
    end)
end)

describe("libfota over https", function()
    local srv, auth_srv, certs, dir, sys, libfota

    setup(function()
        local d = T.tmpdir("tls")
        certs = T.make_certs(d)
        srv = T.start_server({ dir = d, package = PKG, tls = true, host = "localhost" })
        local d2 = T.tmpdir("tls-auth")
        assert(os.execute(string.format("cp '%s'/*.crt '%s'/*.key '%s'/", d, d, d2)))
        auth_srv = T.start_server({ dir = d2, package = PKG, tls = true, clientauth = true, host = "localhost" })
    end)
    teardown(function()
        srv.stop()
        auth_srv.stop()
    end)

    before_each(function()
        dir = T.tmpdir("libfota-tls")
        sys = T.device(dir)
        libfota = T.fresh("libfota")
    end)

    local function request(url, ca, cert, key, pass)
        local got
        libfota.request(function(code, info) got = { code, info } end,
            url, nil, nil, nil, nil, 10000, ca, cert, key, pass)
        sys.run()
        fota.confirm()
        return got[1], got[2]
    end

    it("downloads with the right CA and refuses a wrong one (code 1)", function()
        local c0, i0 = request(srv.url("/pkg"), certs.ca)
        assert.equal(0, c0, i0 and i0.msg)
        assert.equal("V1104", fota.state().running.core)
        fota.confirm()
        local code, info = request(srv.url("/pkg"), certs.other)
        assert.equal(1, code)
        assert.equal(-4, info.error)
    end)

    it("needs the client certificate when the server asks for one", function()
        assert.equal(1, (request(auth_srv.url("/pkg"), certs.ca)))
        assert.equal(0, (request(auth_srv.url("/pkg"), certs.ca, certs.client_cert, certs.client_key)))
        assert.equal(0, (request(auth_srv.url("/pkg"), certs.ca, certs.client_cert, certs.client_key_enc, "s3cret")))
        assert.equal(1, (request(auth_srv.url("/pkg"), certs.ca, certs.client_cert, certs.client_key_enc, "wrong")))
    end)
end)

describe("libfota checks the package before reporting success", function()
    local srv, dir, sys, libfota, key, pub, other_key

    setup(function()
        local kd = T.tmpdir("keys")
        key, pub = T.keypair(kd)
        local kd2 = T.tmpdir("keys2")
        other_key = T.keypair(kd2)
        srv = T.start_server({ package = T.make_package({ key = key }) })
    end)
    teardown(function() srv.stop() end)

    before_each(function()
        dir = T.tmpdir("verify")
        sys = T.device(dir)
        libfota = T.fresh("libfota")
        _G.PROJECT, _G.VERSION = "demo", "1.2.3"
        os.execute("mkdir -p " .. dir .. "/fota")
        T.write(dir .. "/fota/trusted.pem", pub)
    end)
    after_each(function() _G.PROJECT, _G.VERSION = nil, nil end)

    local function serve(pkg) T.write(srv.dir .. "/package.bin", pkg) end
    local function request()
        local got
        libfota.request(function(code, info) got = { code, info } end, srv.url("/pkg"))
        sys.run()
        return got[1], got[2]
    end

    it("accepts a package signed with the device's trusted key", function()
        serve(T.make_package({ key = key }))
        assert.equal(0, (request()))
        local st = fota.state()
        assert.is_true(st.trying)
        assert.equal("1.2.4", st.running.version)
        assert.equal("V1104", st.running.core)
    end)

    local refusals = {
        { "an unsigned package", {}, "no_signature" },
        { "a package signed by another key", { other = true }, "bad_signature" },
        { "an older script VERSION", { version = "1.2.2" }, "rollback" },
        { "an older core", { core = "V1102" }, "rollback" },
        { "another project's package", { project = "other" }, "bad_meta" },
    }
    for _, case in ipairs(refusals) do
        it("refuses " .. case[1] .. " (code 4, " .. case[3] .. ") and clears the staging area", function()
            local o = case[2]
            serve(T.make_package({ key = (o.other and other_key) or (next(o) and key) or nil,
                version = o.version, core = o.core, project = o.project }))
            local code, info = request()
            assert.equal(4, code)
            assert.equal("verify", info.error)
            assert.equal(case[3], info.reason)
            assert.is_nil(T.read(dir .. "/fota/stage.bin"))
            assert.is_nil(T.read(dir .. "/fota/stage.bin.ready"))
        end)
    end
end)
