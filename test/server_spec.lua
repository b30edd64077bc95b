-- fota-server (server/, docs/server.md): the IoT-platform API driven by the
-- module's own clients (libfota, libfota2, fota.download) and by curl;
-- every answer code, resume, signatures, the log and a clean shutdown.
local T = require "testutil"
local socket = require "socket"

local FW = T.FW
local new_imei = T.imei_maker("8600")
local admin = T.admin

local function query(o)
    return string.format("project_key=%s&firmware_name=%s&version=%s&imei=%s",
        o.key or "KEY123", o.fw or FW, o.version or "1103.1.3", o.imei)
end

--- GET until the answer is not 43 (bounded); returns status, body, headers.
local function get_ready(url, extra)
    local status, body, headers
    for _ = 1, 200 do
        status, body, headers = T.curl(url, extra)
        if status ~= 503 then return status, body, headers end
        socket.sleep(0.05)
    end
    return status, body, headers
end

local function code_of(body) return tonumber(body:match('"code":(%-?%d+)')) end

-- Every block runs against each store (T.stores(): a SQLite file and a PostgreSQL
-- database of the spec's throwaway cluster); none is about the SQLite file itself.
for _, store in ipairs(T.stores()) do
    local function fixture(o)
        o = o or {}
        o.store = store
        return T.server_fixture(o)
    end

    describe("fota-server [" .. store .. "]", function()
        local db, srv, key, pub

        setup(function()
            local kd = T.tmpdir("srvkeys")
            key, pub = T.keypair(kd)
            db = fixture()
            srv = T.start_fota_server({ db = db, key = key, flush_ms = 30, build_delay_ms = 300 })
        end)
        teardown(function() if srv then srv.stop() end end)

        local function log_rows(id)
            socket.sleep(0.1)   -- the log is written in batches every 30 ms here
            return T.log_rows(db, id)
        end

        describe("answers", function()
            it("43 while the package for a base core is being generated, then 200", function()
                local url = srv.url(query({ imei = new_imei(), version = "1102.1.3" }))
                local s1, b1, h1 = T.curl(url)
                local s2, b2 = T.curl(url)
                assert.equal(503, s1)
                assert.equal(43, code_of(b1))
                assert.equal("30", h1["retry-after"])
                assert.equal(503, s2)   -- still building (300 ms)
                assert.equal(43, code_of(b2))
                local s3, b3 = get_ready(url)
                assert.equal(200, s3)
                assert.equal("LFPK", b3:sub(1, 4))
            end)

            it("25 unknown project key, 26 unknown firmware name", function()
                local s, b = T.curl(srv.url(query({ key = "NOPE", imei = new_imei() })))
                assert.equal(404, s)
                assert.equal(25, code_of(b))
                s, b = T.curl(srv.url(query({ fw = "demo_LuatOS-SoC_EC716", imei = new_imei() })))
                assert.equal(404, s)
                assert.equal(26, code_of(b))
            end)

            it("25 for a keyless AT module of a model in no default project names the model", function()
                local at = "firmware_name=Air780E_AT_EC618&version=1015.0.0&imei=" .. new_imei()
                local s, b = T.curl(srv.url(at))
                assert.same({ 404, 25 }, { s, code_of(b) })
                assert.truthy(b:find('"no default project for model Air780E; set a KEY"', 1, true), b)
                -- a key it did send is still judged as a key
                s, b = T.curl(srv.url("project_key=a%20b&" .. at))
                assert.same({ 400, 25 }, { s, code_of(b) })
                assert.truthy(b:find("bad project_key", 1, true), b)
                -- and a name that is no AT firmware name, without a key, is a missing key
                s, b = T.curl(srv.url("firmware_name=" .. FW .. "&version=1103.1.3&imei=" .. new_imei()))
                assert.same({ 400, 25 }, { s, code_of(b) })
                assert.truthy(b:find("bad project_key", 1, true), b)
            end)

            it("3 for an IMEI with a wrong check digit, 17 for another owner's device", function()
                local good = new_imei()
                local bad = good:sub(1, 14) .. tostring((tonumber(good:sub(15)) + 1) % 10)
                local s, b = T.curl(srv.url(query({ imei = bad })))
                assert.equal(403, s)
                assert.equal(3, code_of(b))
                local other = new_imei()
                admin(db, "device add --imei " .. other .. " --owner bob")
                s, b = T.curl(srv.url(query({ imei = other })))
                assert.equal(403, s)
                assert.equal(17, code_of(b))
                admin(db, "device add --imei " .. other .. " --project demo")   -- the project's owner
                s = get_ready(srv.url(query({ imei = other })))
                assert.equal(200, s)
            end)

            it("27 when not newer (CORE.x.z compared numerically, y not sent)", function()
                for _, v in ipairs({ "1104.1.4", "1104.01.004", "1104.1.5", "1105.0.0", "1104.2.0" }) do
                    local s, b = T.curl(srv.url(query({ imei = new_imei(), version = v })))
                    assert.equal(404, s, v)
                    assert.equal(27, code_of(b), v)
                end
                assert.equal(200, (get_ready(srv.url(query({ imei = new_imei(), version = "1104.1.3" })))))
            end)

            it("27 for a device outside the IMEI list and when the upgrade is disabled; 21 for a from-version "
                .. "not allowed", function()
                local listed, other = new_imei(), new_imei()
                admin(db, "config set --project demo --firmware " .. FW .. " --imeis " .. listed)
                local s, b = T.curl(srv.url(query({ imei = other })))
                assert.equal(404, s)
                assert.equal(27, code_of(b))
                assert.truthy(b:find("not in the upgrade list", 1, true))
                assert.equal(200, (get_ready(srv.url(query({ imei = listed })))))
                admin(db, "config set --project demo --firmware " .. FW .. " --imeis all --from 1103.1.1,1103.1.2")
                s, b = T.curl(srv.url(query({ imei = other, version = "1103.1.3" })))
                assert.equal(403, s)
                assert.equal(21, code_of(b))
                assert.equal(200, (get_ready(srv.url(query({ imei = other, version = "1103.01.2" })))))
                admin(db, "config set --project demo --firmware " .. FW .. " --from any --enabled 0")
                s, b = T.curl(srv.url(query({ imei = new_imei() })))
                assert.equal(404, s)
                assert.equal(27, code_of(b))
                assert.truthy(b:find("disabled", 1, true))
                admin(db, "config set --project demo --firmware " .. FW .. " --enabled 1")
                assert.equal(200, (get_ready(srv.url(query({ imei = new_imei() })))))
            end)

            it("40 at the 7th download from byte 0 of a day, until the device is unbanned; polls, resumes "
                .. "and HEADs do not count", function()
                local id = new_imei()
                local url = srv.url(query({ imei = id }))
                local poll = srv.url(query({ imei = id, version = "1104.1.4" }))
                local function answer(u, extra)   -- { status, code } (0: the package)
                    local s, b = T.curl(u, extra)
                    return { s, (s == 200 or s == 206) and 0 or code_of(b) }
                end
                local s, full, h = get_ready(url)   -- the 1st (a "please wait" before it is not one)
                assert.equal(200, s)
                for i = 2, 5 do
                    -- between downloads: a poll (27), a resume (206) and a HEAD, none counted
                    assert.same({ 404, 27 }, answer(poll), "poll before download " .. i)
                    assert.same({ 206, 0 }, answer(url, "-H 'Range: bytes=100-' -H 'If-Range: " .. h.etag .. "'"))
                    assert.same({ 200, 0 }, answer(url, "-I"))
                    local st, b = T.curl(url)
                    assert.equal(200, st, "download " .. i)
                    assert.equal(full, b)
                end
                -- the 6th: a Range whose If-Range names another package gets the whole one, a download
                local st, b = T.curl(url, "-H 'Range: bytes=100-' -H 'If-Range: \"stale\"'")
                assert.equal(200, st)
                assert.equal(full, b)
                -- six handed out: polls, resumes and HEADs are still answered as before
                for _ = 1, 8 do assert.same({ 404, 27 }, answer(poll)) end
                assert.same({ 206, 0 }, answer(url, "-H 'Range: bytes=100-'"))
                assert.same({ 200, 0 }, answer(url, "-I"))
                -- the 7th download is refused and bans the device
                assert.same({ 403, 40 }, answer(url))
                assert.same({ 403, 40 }, answer(poll))   -- banned, whatever it asks
                assert.same({ 403, 40 }, answer(url, "-H 'Range: bytes=100-'"))
                assert.equal(403, (T.curl(url, "-I")))   -- a HEAD: the status, no body
                admin(db, "device unban --imei " .. id)
                assert.same({ 404, 27 }, answer(poll))
                assert.same({ 200, 0 }, answer(url))   -- the day's count restarted
                local rows = {}
                for _, r in ipairs(log_rows(id)) do
                    if r.code ~= 43 then rows[#rows + 1] = r end
                end
                assert.equal(34, #rows)
                local first_ban
                for n, r in ipairs(rows) do first_ban = first_ban or (r.code == 40 and n) end
                assert.equal(29, first_ban)
                assert.equal(403, rows[29].status)
                assert.truthy(rows[29].msg:find("6 upgrades handed out today", 1, true), rows[29].msg)
            end)

            it("refuses bad parameters with 400 and the code of the parameter", function()
                local id = new_imei()
                local cases = {
                    { "project_key=" .. string.rep("K", 65) .. "&firmware_name=" .. FW
                        .. "&version=1103.1.3&imei=" .. id, 25 },
                    { "project_key=KEY%20123&firmware_name=" .. FW .. "&version=1103.1.3&imei=" .. id, 25 },
                    { "project_key=KEY123&firmware_name=demo%0A%27%3B--&version=1103.1.3&imei=" .. id, 26 },
                    { "project_key=KEY123&firmware_name=%E6%B5_LuatOS-SoC_EC618&version=1103.1.3&imei=" .. id, 26 },
                    { "project_key=KEY123&firmware_name=%C2%85_LuatOS-SoC_EC618&version=1103.1.3&imei=" .. id, 26 },
                    { "project_key=KEY123&firmware_name=" .. string.rep("f", 128)
                        .. "&version=1103.1.3&imei=" .. id, 26 },
                    { "project_key=KEY123&firmware_name=" .. FW .. "&version=1.0&imei=" .. id, 21 },
                    { "project_key=KEY123&firmware_name=" .. FW .. "&version=1103.1.3.4&imei=" .. id, 21 },
                    { "project_key=KEY123&firmware_name=" .. FW .. "&version=1103.1234567890.3&imei=" .. id, 21 },
                    { "project_key=KEY123&firmware_name=" .. FW .. "&version=1103.1.3&imei=12345", 3 },
                    { "project_key=KEY123&firmware_name=" .. FW .. "&version=1103.1.3&imei=49015420323751a", 3 },
                    { "project_key=KEY123&firmware_name=" .. FW .. "&version=1103.1.3", 3 },
                    { "project_key=KEY123&firmware_name=" .. FW .. "&version=1103.1.3&imei=" .. id .. "%00", 3 },
                    { query({ imei = id }) .. "&imei=" .. id, 3 },
                    { query({ imei = id }) .. "&project_key=KEY123", 25 },
                }
                for _, c in ipairs(cases) do
                    local s, b, h = T.curl(srv.url(c[1]))
                    assert.equal(400, s, c[1])
                    assert.equal(c[2], code_of(b), c[1])
                    assert.equal("application/json", h["content-type"])
                end
                assert.equal(404, (T.curl("http://127.0.0.1:" .. srv.port .. "/api/other?" .. query({ imei = id }))))
                assert.equal(405, (T.curl(srv.url(query({ imei = id })), "-X POST --data x=1")))
                -- a request head over the per-connection limit
                local big = T.tmpdir("big") .. "/h"
                T.write(big, "X-Big: " .. string.rep("a", 20000) .. "\n")
                local s = T.curl(srv.url(query({ imei = id })), "-H @" .. big)
                assert.is_true(s == 431 or s == 413 or s == 414, "status " .. tostring(s))
                -- the server is still fine
                assert.equal(404, (T.curl(srv.url(query({ imei = id, version = "1104.1.4" })))))
            end)
        end)

        describe("with the module's client", function()
            local dir, sys, libfota, libfota2, lines

            before_each(function()
                dir = T.tmpdir("srvdev")
                sys, lines = T.device(dir)
                libfota = T.fresh("libfota")
                libfota2 = T.fresh("libfota2")
                _G.PROJECT, _G.VERSION, _G.PRODUCT_KEY = "demo", "1.2.3", "KEY123"
                os.execute("mkdir -p " .. dir .. "/fota")
                T.write(dir .. "/fota/trusted.pem", pub)
            end)
            after_each(function() _G.PROJECT, _G.VERSION, _G.PRODUCT_KEY = nil, nil, nil end)

            local function request2(opts)
                local got
                libfota2.request(function(code, info) got = { code, info } end, opts)
                sys.run()
                return got[1], got[2]
            end

            it("libfota (PRODUCT_KEY only) gets 43, then a signed package that passes fota.verify", function()
                local old = os.getenv
                os.getenv = function(k) -- luacheck: ignore
                    if k == "LUAT_FOTA_IOT_URL" then return srv.base end
                    return old(k)
                end
                local ok, err = pcall(function()
                    local got
                    local function request()
                        libfota.request(function(code, info) got = { code, info } end)
                        sys.run()
                        return got[1], got[2]
                    end
                    local code, info = request()
                    for _ = 1, 100 do
                        if not (code == 4 and info.code == 43) then break end
                        socket.sleep(0.05)
                        code, info = request()
                    end
                    -- 0: fotaflow checked it with DEVICE/fota/trusted.pem before committing
                    assert.equal(0, code, info and (info.msg or info.code))
                    assert.equal(200, info.status)
                    local s, pkg = T.curl(srv.url(query({ imei = new_imei() })))
                    assert.equal(200, s)
                    assert.equal(info.size, #pkg)
                    local p = T.tmpdir("srvpkg") .. "/p.fota"
                    T.write(p, pkg)
                    local vok, vinfo = fota.verify({ path = p, pubkey = pub, project = "demo", bsp = "EC618",
                        core = "V1103", version = "1.2.3" })
                    assert.is_true(vok, vinfo)
                    assert.is_true(vinfo.signed)
                    assert.equal("V1104", vinfo.core)
                    assert.equal("1.2.4", vinfo.version)
                    assert.equal(FW, vinfo.firmware)
                    local rows = log_rows(mobile.imei())
                    assert.equal(0, rows[#rows].code)
                    assert.equal(200, rows[#rows].status)
                    assert.truthy(rows[#rows].request:find("version=1103.1.3", 1, true))
                end)
                os.getenv = old -- luacheck: ignore
                assert(ok, err)
            end)

            it("serves https: libfota2 with the server's CA gets the package, a wrong CA gets code 1", function()
                local cd = T.tmpdir("srvtls")
                local certs = T.make_certs(cd)
                local tsrv = T.start_fota_server({ db = db, key = key, tls_cert = cd .. "/server.crt",
                    tls_key = cd .. "/server.key" })
                local ok, err = pcall(function()
                    local code, info
                    for _ = 1, 100 do
                        code, info = request2({ url = tsrv.base, server_cert = certs.ca })
                        if not (code == 4 and info.code == 43) then break end
                        socket.sleep(0.05)
                    end
                    assert.equal(0, code, info and (info.msg or info.code))
                    assert.equal("V1104", fota.state().running.core)
                    fota.confirm()
                    code, info = request2({ url = tsrv.base, server_cert = certs.other, imei = new_imei() })
                    assert.equal(1, code)
                    assert.equal(-4, info.error)
                    -- strict heads over TLS too (server/head.c): a keep-alive follow-up with a bare LF
                    local ssl = require "ssl"
                    local tcp = assert(socket.tcp())
                    tcp:settimeout(5)
                    assert(tcp:connect("127.0.0.1", tsrv.port))
                    local conn = assert(ssl.wrap(tcp, { mode = "client", protocol = "any", verify = "none" }))
                    conn:settimeout(5)
                    assert(conn:dohandshake())
                    local path = "/api/site/firmware_upgrade?" .. query({ imei = new_imei(), version = "1104.1.4" })
                    assert(conn:send("GET " .. path .. " HTTP/1.1\r\nHost: x\r\n\r\n"
                        .. "GET " .. path .. " HTTP/1.1\nHost: x\r\n\r\n"))
                    local got = {}
                    repeat
                        local chunk, e, part = conn:receive(4096)
                        got[#got + 1] = chunk or part
                    until not chunk or e
                    conn:close()
                    local all = table.concat(got)
                    local first, second = all:match("^HTTP/1.1 (%d+).-\r\n\r\n.-HTTP/1.1 (%d+)")
                    assert.same({ "404", "400" }, { first, second }, all)
                    assert.truthy(all:find("request line not ended by CRLF", 1, true), all)
                end)
                tsrv.stop()
                assert(ok, err)
            end)

            it("signs answers with a time and an expiry: fota.state() keeps the last fresh one; a frozen "
                .. "server is noticed", function()
                local id, before = new_imei(), os.time()
                assert.is_nil(fota.state().fresh)
                local code, info = request2({ url = srv.base, imei = id, version = "1104.1.4" })
                assert.same({ 4, 27 }, { code, info.code })
                local fresh = fota.state().fresh
                assert.truthy(fresh and fresh >= before - 1 and fresh <= os.time() + 1, tostring(fresh))
                -- the statement names the device, the version it sent and the answer
                local _, _, h = T.curl(srv.url(query({ imei = id, version = "1104.1.4" })))
                local value = h["x-fota-fresh"]
                assert.truthy(value and value:match("^v=1;t=%d+;exp=%d+;sig=%x+$"), value)
                local t, exp = value:match("t=(%d+);exp=(%d+)")
                assert.equal(3600, tonumber(exp) - tonumber(t))
                local function check(o)
                    local f = { header = value, imei = id, version = "1104.1.4", code = 27, now = os.time() }
                    for k, v in pairs(o) do f[k] = v end
                    local ok, why = fota.fresh(f)
                    return ok and "ok" or why
                end
                assert.equal("ok", check({}))
                -- a VERSION written "001.004" zero-padded sends 1104.001.004: the same question
                assert.equal("ok", check({ version = "1104.001.004" }))
                assert.equal("bad_signature", check({ imei = new_imei() }))       -- another device's answer
                assert.equal("bad_signature", check({ version = "1103.1.3" }))    -- to another question
                assert.equal("bad_signature", check({ code = 26 }))               -- saying something else
                assert.equal("bad_signature", check({ pubkey = select(2, T.keypair(T.tmpdir("k2"))) }))   -- another key
                assert.equal("expired", check({ now = tonumber(exp) + 1 }))       -- replayed after its expiry
                assert.equal("future", check({ now = tonumber(t) - 301 }))
                assert.equal("bad_format", check({ header = value:gsub("sig=%x%x", "sig=") }))
                assert.equal("bad_format", check({ header = value .. ";x=1" }))
                assert.equal("bad_format", check({ header = "" }))
                -- packages carry one too, over their hash
                local s, _, ph = get_ready(srv.url(query({ imei = new_imei() })))
                assert.equal(200, s)
                assert.truthy(ph["x-fota-fresh"])
                -- a server that stops signing (frozen, or a man in the middle replaying "no update"):
                -- the answers go on, the device warns once the last fresh one is older than the limit
                -- (the checks above recorded the curl's statement, which may be a second later than the first)
                local last = fota.state().fresh
                local frozen = T.start_fota_server({ db = db })
                local ok, err = pcall(function()
                    local flow = require "fotaflow"
                    flow.FRESH_WARN_S = 1
                    socket.sleep(2.1)
                    code, info = request2({ url = frozen.base, imei = id, version = "1104.1.4" })
                    assert.same({ 4, 27 }, { code, info.code })
                    assert.equal(last, fota.state().fresh)
                    assert.truthy(table.concat(lines):find("no fresh signed answer for", 1, true), table.concat(lines))
                end)
                frozen.stop()
                assert(ok, err)
            end)

            it("libfota2 reports the platform's codes", function()
                local code, info = request2({ url = srv.base, imei = new_imei(), version = "1104.1.4" })
                assert.equal(4, code)
                assert.equal(404, info.status)
                assert.equal(27, info.code)
                code, info = request2({ url = srv.base, imei = new_imei(), project_key = "NOPE" })
                assert.equal(4, code)
                assert.equal(25, info.code)
            end)

            it("resumes a cut download with Range and If-Range (206), and serves 200 when the ETag differs", function()
                local id = new_imei()
                -- base V1102 has no image: the whole core (~100 KB), large enough to cut
                -- (from V1103 the server builds a delta that can arrive in one poll)
                local opts = { project_key = "KEY123", imei = id, version = "1102.1.3" }
                local url = require("fotaflow").with_query(srv.base, require("fotaflow").iot_query(opts, "libfota2"))
                local s, full, h = get_ready(url)
                assert.equal(200, s)
                assert.truthy(h.etag)
                -- a download given up half way keeps its part and the ETag
                local t, done = T.partial_download(url)
                assert.is_true(done > 0 and done < #full, "partial: " .. tostring(done))
                t:close()
                local code, info = request2({ url = srv.base, imei = id, version = "1102.1.3" })
                assert.equal(0, code, info and info.msg)
                assert.equal(206, info.status)
                assert.equal(done, info.resumed)
                assert.equal(#full, info.size)   -- and verified before the commit (code 0)
                -- curl: the same with headers, a stale validator, and past the end
                local s2, part, h2 = T.curl(url, "-H 'Range: bytes=100-' -H 'If-Range: " .. h.etag .. "'")
                assert.equal(206, s2)
                assert.equal(full:sub(101), part)
                assert.equal("bytes 100-" .. (#full - 1) .. "/" .. #full, h2["content-range"])
                local s3, all = T.curl(url, "-H 'Range: bytes=100-' -H 'If-Range: \"stale\"'")
                assert.equal(200, s3)
                assert.equal(full, all)
                local s4, _, h4 = T.curl(url, "-H 'Range: bytes=" .. #full .. "-'")
                assert.equal(416, s4)
                assert.equal("bytes */" .. #full, h4["content-range"])
                -- resumes are not counted as requests of the day
                local rows = log_rows(id)
                local counted = 0
                for _, r in ipairs(rows) do if not r.request:find("range=", 1, true) then counted = counted + 1 end end
                assert.is_true(counted <= 3)
            end)
        end)

        describe("admin", function()
            it("--help for every command, refuses bad input with status 2", function()
                for _, c in ipairs({ "serve", "project add", "project list", "firmware add", "firmware list",
                    "config set", "config show", "device add", "device ban", "device unban", "log" }) do
                    local out, status = T.run(T.build .. "/fota-server " .. c .. " --help")
                    assert.equal(0, status, c)
                    assert.truthy(out:find("usage: fota-server " .. c:match("^%S+"), 1, true), c)
                end
                local _, s = T.fota_server(db, "project add --name \"$(printf 'bad\\tname')\" --key K")
                assert.equal(2, s)
                _, s = T.fota_server(db, "project add --name demo --key KEY123")   -- exists
                assert.equal(2, s)
                _, s = T.fota_server(db, "device ban --imei 123")
                assert.equal(2, s)
                _, s = T.fota_server(db, "config set --project demo --firmware " .. FW .. " --imeis 1,2")
                assert.equal(2, s)
                _, s = T.fota_server(db, "config set --project demo --firmware " .. FW .. " --from 1.0")
                assert.equal(2, s)
                _, s = T.fota_server(db, "log --imei " .. new_imei() .. " --date 2024-13-01")
                assert.equal(2, s)
                _, s = T.fota_server(db, "frobnicate")
                assert.equal(2, s)
                local out = admin(db, "log --imei " .. new_imei() .. " --date " .. os.date("%Y-%m-%d"))
                assert.equal("", out)
            end)

            it("project names: 1..64 characters of UTF-8 without controls, unique per owner", function()
                local name = "Air7XXE标准模块"
                admin(db, "project add --name '" .. name .. "' --key KEY_names1 --owner carol")
                assert.truthy(admin(db, "project list"):find(name .. "\tKEY_names1\tcarol\n", 1, true))
                -- refused: invalid UTF-8 (an overlong '/', a lone continuation byte, a cut character), control
                -- characters (C0, DEL, C1), 65 characters, empty; and nothing of them stored
                for i, bad in ipairs({ "a\\300\\257b", "a\\200", "Air\\346\\240", "a\\tb", "a\\177", "a\\302\\205",
                    string.rep("模", 65), "" }) do
                    local out, st = T.fota_server(db,
                        string.format("project add --name \"$(printf '%s')\" --key KEY_bad%d", bad, i))
                    assert.equal(2, st, bad)
                    assert.truthy(out:find("1..64 characters of UTF-8", 1, true), out)
                end
                assert.falsy(admin(db, "project list"):find("KEY_bad", 1, true))
                local sixty_four = string.rep("模", 64)
                admin(db, "project add --name '" .. sixty_four .. "' --key KEY_names64 --owner carol")
                -- a second project of that name for the same owner: refused; for another owner: accepted
                local out, st = T.fota_server(db, "project add --name '" .. name .. "' --key KEY_names2 --owner carol")
                assert.equal(2, st)
                assert.truthy(out:find("the owner has a project of that name", 1, true), out)
                admin(db, "project add --name '" .. name .. "' --key KEY_names3 --owner dave")
                local list = admin(db, "project list")
                assert.truthy(list:find(sixty_four .. "\tKEY_names64\tcarol\n", 1, true))
                assert.truthy(list:find(name .. "\tKEY_names3\tdave\n", 1, true))
                -- a --project naming both is refused until --owner says whose
                out, st = T.fota_server(db, "config show --project '" .. name .. "'")
                assert.equal(2, st)
                assert.truthy(out:find("more than one owner: give --owner", 1, true), out)
                assert.equal(0, select(2, T.fota_server(db, "config show --project '" .. name .. "' --owner dave")))
                assert.equal(name .. "\tKEY_names3\tdave\n", admin(db, "project list --owner dave"))
                -- its releases carry the devices' PROJECT (the package format's alphabet): given apart
                local d = T.tmpdir("names")
                os.execute("mkdir -p " .. d .. "/s")
                T.write(d .. "/s/main.lua", 'PROJECT = "names"\nVERSION = "1.0.0"\n')
                T.write(d .. "/core.bin", T.noise(1000, 3))
                local add = "firmware add --project '" .. name .. "' --owner carol --bsp EC618 --core-version V1104"
                    .. " --core " .. d .. "/core.bin --script " .. d .. "/s --version 1.0.0"
                out, st = T.fota_server(db, add)
                assert.equal(2, st)
                assert.truthy(out:find("--lua-project", 1, true), out)
                assert.truthy(admin(db, add .. " --lua-project names"):find("names_LuatOS-SoC_EC618", 1, true))
                admin(db, "config set --project '" .. name .. "' --owner carol --firmware names_LuatOS-SoC_EC618")
                local s, b = get_ready(srv.url(query({ key = "KEY_names1", fw = "names_LuatOS-SoC_EC618",
                    version = "1103.1.0", imei = new_imei() })))
                assert.equal(200, s)
                assert.truthy(b:find("names_LuatOS-SoC_EC618", 1, true))
                -- a device whose PROJECT is not ASCII: its firmware name reaches the check and the log intact
                local id = new_imei()
                s, b = T.curl(srv.url("project_key=KEY_names1&firmware_name=%E6%B5%8B_LuatOS-SoC_EC618"
                    .. "&version=1103.1.3&imei=" .. id))
                assert.equal(404, s)
                assert.equal(26, code_of(b))
                local rows = log_rows(id)
                assert.truthy(rows[#rows].request:find("firmware_name=测_LuatOS-SoC_EC618", 1, true))
                -- and a vendor package for that name is served to it as it is
                local bytes = T.noise(3000, 11)
                T.write(d .. "/vendor.bin", bytes)
                admin(db, "package add --project '" .. name .. "' --owner carol --firmware '测_LuatOS-SoC_EC618'"
                    .. " --to 1105.1.2 --from any " .. d .. "/vendor.bin")
                admin(db, "config set --project '" .. name .. "' --owner carol --firmware '测_LuatOS-SoC_EC618'")
                s, b = get_ready(srv.url("project_key=KEY_names1&firmware_name=%E6%B5%8B_LuatOS-SoC_EC618"
                    .. "&version=1104.1.3&imei=" .. id))
                assert.equal(200, s)
                assert.equal(bytes, b)
            end)
        end)
    end)

    describe("fota-server polling [" .. store .. "]", function()
        local db, srv

        setup(function()
            db = fixture({ key = "KEYPOLL" })
            -- no package gets ready here (a build waits 10 minutes): a device off the target hears 43
            srv = T.start_fota_server({ db = db, flush_ms = 30, build_delay_ms = 600000 })
        end)
        teardown(function() if srv then srv.stop() end end)

        --- n checks from id on one keep-alive connection, the i-th for version_of(i);
        -- returns { [code] = how many }.
        local function checks(id, n, version_of)
            local c = assert(socket.connect("127.0.0.1", srv.port))
            c:settimeout(10)
            local got = {}
            for i = 1, n do
                local q = query({ key = "KEYPOLL", imei = id, version = version_of(i) })
                assert(c:send("GET /api/site/firmware_upgrade?" .. q .. " HTTP/1.1\r\nHost: x\r\n\r\n"))
                local sl = assert(c:receive("*l"))
                assert(sl:match("^HTTP/1.1 %d+"), "check " .. i .. ": " .. sl)
                local len
                repeat
                    local line = assert(c:receive("*l"))
                    len = len or tonumber(line:lower():match("^content%-length:%s*(%d+)"))
                until line == ""
                assert(len, "check " .. i .. ": no Content-Length")
                local code = code_of(assert(c:receive(len)))
                got[code] = (got[code] or 0) + 1
            end
            c:close()
            return got
        end

        it("a day of hourly (24) and of every-minute (1,440) checks answered 27 and 43 never gets 40", function()
            local hourly = new_imei()
            assert.same({ [27] = 12, [43] = 12 },
                checks(hourly, 24, function(i) return i % 2 == 0 and "1104.1.4" or "1102.1.3" end))
            local minute = new_imei()
            assert.same({ [27] = 1296, [43] = 144 },
                checks(minute, 1440, function(i) return i % 10 == 0 and "1102.1.3" or "1104.1.4" end))
            -- each one answered and logged, none the start of a loop
            local rows = {}
            for _ = 1, 100 do
                rows = T.log_rows(db, minute)
                if #rows >= 1440 then break end
                socket.sleep(0.05)
            end
            assert.equal(1440, #rows)
            assert.equal(24, #T.log_rows(db, hourly))
        end)
    end)

    describe("fota-server packages by base core [" .. store .. "]", function()
        local base = T.noise(100000, 11)
        -- the new core: the old one with a few changes (what a delta is for)
        local new = base:sub(1, 30000) .. "patched!" .. base:sub(30009, 70000) .. string.rep("\1", 500)
            .. base:sub(70501)
        local db, srv

        setup(function()
            db = fixture({ key = "KEY44", core1103 = base, core1104 = new })
            -- a full core (100 KB) does not fit in 60000 bytes: only a delta does
            srv = T.start_fota_server({ db = db, max_size = 60000, flush_ms = 30 })
        end)
        teardown(function() if srv then srv.stop() end end)

        local function pkg_info(bytes)
            local p = T.tmpdir("pkginfo") .. "/p.fota"
            T.write(p, bytes)
            return T.run(T.build .. "/fotapack inspect " .. p)
        end

        it("44 when the device's base core image is unknown and a delta is required", function()
            local s, b = T.curl(srv.url(query({ key = "KEY44", imei = new_imei(), version = "1102.1.3" })))
            assert.equal(409, s)
            assert.equal(44, code_of(b))
        end)

        it("a delta from a known base core, when the delta engine is built in", function()
            local s, b = get_ready(srv.url(query({ key = "KEY44", imei = new_imei(), version = "1103.1.0" })))
            if srv.out():find("deltas: yes", 1, true) then
                assert.equal(200, s)
                local out = pkg_info(b)
                assert.truthy(out:find("core_delta", 1, true), out)
                assert.truthy(#b < 60000)
            else
                assert.equal(500, s)
                assert.truthy(b:find("no delta engine", 1, true))
            end
        end)

        it("a script-only package for a device already on the target core", function()
            local s, b = get_ready(srv.url(query({ key = "KEY44", imei = new_imei(), version = "1104.1.0" })))
            assert.equal(200, s)
            local out = pkg_info(b)
            assert.falsy(out:find("core_", 1, true), out)
            assert.truthy(out:find("script version:%s+1.2.4"), out)
        end)

        it("the running release again only when the configuration asks, marked reinstall", function()
            local url = srv.url(query({ key = "KEY44", imei = new_imei(), version = "1104.1.4" }))
            local s, b = T.curl(url)
            assert.same({ 404, 27 }, { s, code_of(b) })
            local shown = admin(db, "config set --project demo --firmware " .. FW .. " --reinstall 1")
            assert.truthy(shown:find(", reinstall", 1, true), shown)
            s, b = get_ready(url)
            assert.equal(200, s)
            local out = pkg_info(b)
            assert.truthy(out:find("release:%s+V1104 %+ 1.2.4 %(reinstall%)"), out)
            assert.falsy(out:find("core_", 1, true), out)
            -- a device on that release takes it; the ordinary package of that release it refuses
            local p = T.tmpdir("reinstall") .. "/p.fota"
            T.write(p, b)
            local verify = T.build .. "/fotapack verify " .. p .. " --core-version V1104 --script-version 1.2.4"
            local vout, vs = T.run(verify)
            assert.equal(0, vs, vout)
            local _, plain = get_ready(srv.url(query({ key = "KEY44", imei = new_imei(), version = "1104.1.0" })))
            T.write(p, plain)
            vout = T.run(verify)
            assert.truthy(vout:find("FAIL: same_release", 1, true), vout)
            admin(db, "config set --project demo --firmware " .. FW .. " --reinstall 0")
            s, b = T.curl(url)
            assert.same({ 404, 27 }, { s, code_of(b) })
            local _, bad = T.fota_server(db, "config set --project demo --firmware " .. FW .. " --reinstall 2")
            assert.equal(2, bad)
        end)
    end)

    describe("fota-server shutdown [" .. store .. "]", function()
        it("writes every log row on SIGTERM", function()
            local db = fixture({ key = "KEYSD" })
            -- rows would wait an hour for the batch: only the shutdown writes them
            local srv = T.start_fota_server({ db = db, flush_ms = 3600000 })
            local id = new_imei()
            for _ = 1, 5 do T.curl(srv.url(query({ key = "KEYSD", imei = id, version = "1104.1.4" }))) end
            T.curl(srv.url(query({ key = "KEYSD", imei = id, version = "1.0" })))
            assert.equal("", (T.fota_server(db, "log --imei " .. id)))
            assert.equal(0, srv.stop())
            assert.truthy(srv.out():find("stopped", 1, true))
            local out = T.fota_server(db, "log --imei " .. id)
            local n = 0
            for _ in out:gmatch("[^\n]+") do n = n + 1 end
            assert.equal(6, n, out)
        end)
    end)
end
