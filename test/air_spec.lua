-- LuatOS-Air projects (issue 18): test/compat/air, in Air's style (module(),
-- Air's sys/misc/update), upgraded with update.request by a static server and
-- by fota-server; refusals, network failures, period, redirects, the boot
-- applying /luazip/update.bin (also across a power cut), and the Lua 5.1
-- compatibility it rests on.
local T = require "testutil"
local socket = require "socket"
local imei_for = require("simdevice").imei_for

local DIR = "test/compat/air"

-- The project's next release (VERSION 1.0.2, core V1104), as a package or as
-- a script folder for fota-server.
local function next_release(where)
    local main = T.read(DIR .. "/main.lua"):gsub('VERSION = "1.0.1"', 'VERSION = "1.0.2"')
    if where then
        os.execute("mkdir -p " .. where)
        T.write(where .. "/main.lua", main)
        T.write(where .. "/airapp.lua", T.read(DIR .. "/airapp.lua"))
        return where
    end
    return T.make_package({ project = "airdemo", bsp = "RDA8910", version = "1.0.2", core = "V1104", script = main,
                            files = { ["airapp.lua"] = T.read(DIR .. "/airapp.lua") } })
end

local function sim(env, dev, extra)
    dev = dev or (T.tmpdir("air-dev") .. "/d")
    -- a new device has an IMEI of its own (fota-server counts requests per IMEI)
    local out, status = T.run(string.format("%s bin/luatos-sim %s --device %s --imei %s --max-boots 3 " ..
        "--confirm-after 0 %s", env, DIR, dev, imei_for(dev), extra or ""))
    return out, status, dev
end

--- The run ended well (status 0) and printed every line part of ...
local function expect(out, status, ...)
    assert.equal(0, status, out)
    for i = 1, select("#", ...) do
        local want = select(i, ...)
        assert.truthy(out:find(want, 1, true), "missing '" .. want .. "' in:\n" .. out)
    end
end

--- The msg of an answer as the Air724 library (lib/update.lua) reads it:
-- only from a body of at most 200 bytes, every "\\u" dropped, the hex read
-- as UCS-2 big endian (its common.ucs2beToUtf8).
local function air724_msg(body)
    if #body > 200 then return nil end
    local msg = body:match('"msg":%s*"(.-)"')
    if not msg or #msg > 200 then return nil end
    local bytes = msg:gsub("\\u", ""):gsub("%x%x", function(h) return string.char(tonumber(h, 16)) end)
    return require("luatos-air.common").ucs2beToUtf8(bytes)
end

local function count(s, plain)
    local n, at = 0, 1
    while true do
        local i = s:find(plain, at, true)
        if not i then return n end
        n, at = n + 1, i + #plain
    end
end

describe("LuatOS-Air projects", function()
    local srv

    setup(function() srv = T.start_server({ package = next_release(), lifetime = 240 }) end)
    teardown(function() srv.stop() end)

    describe("against a static server", function()
        it("update.request(cbFnc, url): Air's query, cbFnc(true), restart, /luazip/update.bin applied", function()
            local out, status = sim("AIR_MODE=cb AIR_URL=" .. srv.url("/pkg"))
            expect(out, status, "I/user.air update result 1 true", "W/user.sys.restart air upgrade",
                "applying /luazip/update.bin: script 1.0.2 core V1104", "I/user.air UPGRADED 1.0.2 Luat_V1104_RDA8910")
            -- detected as an Air project (no --air): Air's core version string and bsp
            assert.truthy(out:find("I/user.air ready %d+ Luat_V1103_RDA8910 airapp seeall true own true"), out)
            local imei = out:match("I/user.air ready (%d+)")
            -- an Air724UG (RDA8910) asks as the Air724 library: the core apart, dfota=1
            local want = "GET /pkg?project_key=airkey&imei=" .. imei ..
                "&firmware_name=airdemo_Luat_RDA8910&core_version=1103&dfota=1&version=1.0.1|"
            assert.truthy(srv.requests():find(want, 1, true), srv.requests())
            assert.truthy(out:find("I/user.rtos.fota_end package 1.0.2 staged, applied at the next boot", 1, true), out)
        end)

        it("a 2G module (RDA8955) asks as the 2G library: the core in the name, device_key", function()
            local out, status = sim("AIR_MODE=cb AIR_URL=" .. srv.url("/latest"), nil, "--bsp RDA8955")
            expect(out, status, "I/user.air update result 1 false", "W/user.update.error 404 already latest")
            local imei = out:match("I/user.air ready (%d+)")
            local want = "GET /latest?project_key=airkey&imei=" .. imei ..
                "&device_key=&firmware_name=airdemo_Luat_V1103_RDA8955&version=1.0.1|"
            assert.truthy(srv.requests():find(want, 1, true), srv.requests())
        end)

        it("update.request() without cbFnc restarts the module itself", function()
            local out, status = sim("AIR_MODE=nocb AIR_URL=" .. srv.url("/pkg"))
            expect(out, status, "W/user.sys.restart UPDATE_DOWNLOAD_SUCCESS", "I/user.air UPGRADED 1.0.2")
            assert.is_nil(out:find("update result", 1, true), out)
        end)

        it("a refusal logs the platform's msg and gives cbFnc(false); period asks again", function()
            local out, status = sim("AIR_MODE=period AIR_URL=" .. srv.url("/latest") .. " AIR_URL2=" .. srv.url("/pkg"))
            expect(out, status, "I/user.air update result 1 false", "I/user.air update result 2 false")
            assert.equal(2, count(out, "W/user.update.error 404 already latest"), out)
            -- the second check came a period (300 ms) after the first
            local t1 = tonumber(out:match("%[(%d+%.%d+)%] I/user.air update result 1 false"))
            local t2 = tonumber(out:match("%[(%d+%.%d+)%] I/user.air update result 2 false"))
            assert.truthy(t2 - t1 >= 0.29, out)
            -- update.request(nil, url2) 100 ms into the period wait asks at once, with cbFnc kept
            local t3 = tonumber(out:match("%[(%d+%.%d+)%] I/user.air update result 3 true"))
            assert.truthy(t3 and t3 - t2 >= 0.09 and t3 - t2 < 0.25, out)
            assert.truthy(out:find("I/user.air UPGRADED 1.0.2", 1, true), out)
            local imei = out:match("I/user.air ready (%d+)")
            assert.equal(2, count(srv.requests(), "GET /latest?project_key=airkey&imei=" .. imei))
        end)

        it("a 3xx with Location is followed (after 2 s, as Air)", function()
            local before = count(srv.requests(), "GET /pkg|")
            local out, status = sim("AIR_MODE=cb AIR_URL=" .. srv.url("/redirect"))
            expect(out, status, "I/user.update.redirect /pkg", "I/user.air UPGRADED 1.0.2")
            assert.equal(before + 1, count(srv.requests(), "GET /pkg|"))
        end)

        it("an answer without a platform msg is logged bare and gives cbFnc(false)", function()
            local out = sim("AIR_MODE=cb AIR_URL=" .. srv.url("/notfound"))
            assert.truthy(out:find("W/user.update.error 404 \n", 1, true), out)
            assert.truthy(out:find("I/user.air update result 1 false", 1, true), out)
            assert.is_nil(out:find("UPGRADED", 1, true), out)
        end)

        it("network failures in a row give cbFnc(false): 3 for the 2G library, 30 for the Air724's", function()
            local dead = T.start_server({})
            local url = dead.url("/pkg")
            dead.stop()
            socket.sleep(0.3)
            local out, status = sim("AIR_MODE=cb AIR_URL=" .. url, nil, "--bsp RDA8955")
            expect(out, status, "network failed 3 times: connect fail", "I/user.air update result 1 false")
            assert.equal(3, count(out, "I/user.update.download false connect fail"), out)
            assert.equal(1, count(out, "I/user.air update result"), out)
            out, status = sim("AIR_MODE=cb AIR_URL=" .. url)
            expect(out, status, "network failed 30 times: connect fail", "I/user.air update result 1 false")
            assert.equal(30, count(out, "I/user.update.download false connect fail"), out)
        end)
    end)

    it("--air runs a project main.lua does not mark as Air; without it Air's libraries are not there", function()
        local proj = T.tmpdir("air-flag")
        T.write(proj .. "/main.lua", 'PROJECT = "flag" VERSION = "1.0.0" local misc = require "misc" ' ..
            'log.info("flag", #misc.getImei(), socket.isReady(), rtos.get_version()) sys.run()')
        local out, status = T.run("bin/luatos-sim " .. proj .. " --air --device " .. T.tmpdir("air-flag-dev") .. "/d")
        expect(out, status, "I/user.flag 15 false Luat_V1103_RDA8910")
        out = T.run("bin/luatos-sim " .. proj .. " --max-boots 1 --exit-reboot-delay 0 --device " ..
            T.tmpdir("air-flag-dev") .. "/d")
        assert.truthy(out:find("module 'misc' not found", 1, true), out)
    end)

    describe("the boot applying /luazip/update.bin", function()
        it("survives a power cut in the middle of applying it", function()
            local out, _, dev = sim("AIR_MODE=cb AIR_URL=" .. srv.url("/latest"))
            assert.truthy(out:find("update result 1 false", 1, true), out)
            -- the package update.request would have saved, then a power cut at each of the boot's writes
            local pkg = next_release()
            local upgraded = false
            for n = 1, 200 do
                local d = T.tmpdir("air-cut") .. "/d"
                assert(os.execute("cp -a " .. dev .. " " .. d))
                T.write(d .. "/fs/luazip/update.bin", pkg)
                out = sim("LUAT_FOTA_POWERCUT=" .. n .. " AIR_MODE=cb AIR_URL=" .. srv.url("/latest"), d)
                -- whatever write was cut, the next boot runs a whole image: the new one
                assert.truthy(out:find("I/user.air UPGRADED 1.0.2 Luat_V1104_RDA8910", 1, true), out)
                assert.is_nil(T.read(d .. "/fs/luazip/update.bin"))
                if not out:find("power cut", 1, true) then upgraded = n break end
            end
            assert.truthy(upgraded, "every run was cut: raise the bound")
            print("air boot apply: " .. (upgraded - 1) .. " storage operations cut one by one")
        end)

        it("a file that is not a valid package is refused, dropped, and the old scripts run", function()
            local _, _, dev = sim("AIR_MODE=cb AIR_URL=" .. srv.url("/latest"))
            T.write(dev .. "/fs/luazip/update.bin", string.rep("not a package ", 50))
            local out = sim("AIR_MODE=cb AIR_URL=" .. srv.url("/latest"), dev)
            assert.truthy(out:find("/luazip/update.bin refused:", 1, true), out)
            assert.truthy(out:find("I/user.air ready", 1, true), out)
            assert.is_nil(T.read(dev .. "/fs/luazip/update.bin"))
        end)
    end)

    describe("against fota-server", function()
        local fsrv, host, db

        local function admin(args)
            local out, status = T.fota_server(db, args)
            assert(status == 0, args .. ": " .. out)
        end

        -- fota-server builds a package on the first request (43): wait for it
        local function prime(query, extra)
            for _ = 1, 100 do
                local st = T.curl(fsrv.url(query), extra)
                if st ~= 503 then return st end
                socket.sleep(0.1)
            end
        end

        setup(function()
            local dir = T.tmpdir("air-srv")
            db = dir .. "/fota.db"
            T.write(dir .. "/core1104.bin", T.noise(100000, 18))
            admin("project add --name airdemo --key airkey --owner alice")
            admin(string.format("firmware add --project airdemo --bsp RDA8910 --core-version V1104 --core %s " ..
                "--script %s --version 1.0.2", dir .. "/core1104.bin", next_release(dir .. "/script")))
            admin("config set --project airdemo --firmware airdemo_LuatOS-SoC_RDA8910")
            -- the core firmware's variants are releases of their own bsp: TTS_FLOAT (its own core), and
            -- BT, whose core is over the package size limit (a delta is needed: 44 without a base image)
            T.write(dir .. "/core1104tts.bin", T.noise(100000, 19))
            T.write(dir .. "/core1104bt.bin", T.noise(600000, 20))
            for bsp, core in pairs({ RDA8910_TTS_FLOAT = "core1104tts.bin", RDA8910_BT = "core1104bt.bin" }) do
                admin(string.format("firmware add --project airdemo --bsp %s --core-version V1104 --core %s " ..
                    "--script %s --version 1.0.2", bsp, dir .. "/" .. core, dir .. "/script"))
                admin("config set --project airdemo --firmware airdemo_LuatOS-SoC_" .. bsp)
            end
            -- the package host: a static server holding a copy of the server's package cache
            host = T.start_server({ lifetime = 240 })
            assert(os.execute("ln -s " .. db .. ".d/cache " .. host.dir .. "/static"))
            fsrv = T.start_fota_server({ db = db, flush_ms = 30, package_url = host.url("/static"), lifetime = 240 })
            local q = "project_key=airkey&imei=" .. imei_for("air-prime") .. "&device_key=&firmware_name=" ..
                "airdemo_Luat_V1103_RDA8910&version=1.0.1"
            assert.equal(200, prime(q))
        end)
        teardown(function()
            fsrv.stop()
            host.stop()
        end)

        it("answers Air's query: the Air core from the firmware name, the whole script version", function()
            local n = 0
            -- one IMEI a request: a device may ask 6 times a day
            local function base_of(sn)
                n = n + 1
                return "project_key=airkey&imei=" .. imei_for("air-q" .. n) .. "&device_key=" .. sn ..
                    "&firmware_name="
            end
            local st, body = T.curl(fsrv.url(base_of("SN123") .. "airdemo_Luat_V1104_RDA8910&version=1.0.2"))
            assert.equal(404, st)
            assert.truthy(body:find('"code":27', 1, true), body)
            -- the device runs the target (V1104, 1.0.2): already latest. y counts: 1.1.1 is newer than
            -- 1.0.2 (as CORE.x.z, 1104.1.1 would be older than 1104.1.2); 1.0.1 on V1104 gets 1.0.2
            st, body = T.curl(fsrv.url(base_of("SN123") .. "airdemo_Luat_V1104_RDA8910&version=1.1.1"))
            assert.equal(404, st, body)
            assert.equal(200, prime(base_of("SN123") .. "airdemo_Luat_V1104_RDA8910&version=1.0.1"))
            st, body = T.curl(fsrv.url(base_of("SN123") .. "otherproj_Luat_V1103_RDA8910&version=1.0.1"))
            assert.equal(404, st)
            assert.truthy(body:find('"code":26', 1, true), body)
            st, body = T.curl(fsrv.url(base_of("SN123") .. "airdemo_Luat_V1103_RDA8910&version=1.0.1&need_oss_url=2"))
            assert.equal(400, st)
            assert.truthy(body:find('"code":3', 1, true), body)
            st = T.curl(fsrv.url(base_of("bad%20sn") .. "airdemo_Luat_V1103_RDA8910&version=1.0.1"))
            assert.equal(400, st)
            local headers
            st, body, headers = T.curl(fsrv.url(base_of("SN123") ..
                "airdemo_Luat_V1103_RDA8910&version=1.0.1&need_oss_url=1"))
            assert.equal(302, st, body)
            assert.truthy(headers.location:find(host.url("/static/"), 1, true), headers.location)
        end)

        it("answers the Air724 library's query (core_version, dfota=1, Range) as the 2G library's", function()
            local n = 0
            local function new_imei()
                n = n + 1
                return imei_for("air724-" .. n)
            end
            -- Luat_Lua_Air724U lib/update.lua: the name without V<core>, the core as a number, dfota=1,
            -- and a Range always (bytes=0- on the first request)
            local function q724(name, core, version, imei)
                return "project_key=airkey&imei=" .. (imei or new_imei()) .. "&firmware_name=" .. name ..
                    "&core_version=" .. core .. "&dfota=1&version=" .. version
            end
            local function q2g(name, version)
                return "project_key=airkey&imei=" .. new_imei() .. "&device_key=&firmware_name=" .. name ..
                    "&version=" .. version
            end
            local from0 = "-H 'Range: bytes=0-'"
            local st, pkg, h2g = T.curl(fsrv.url(q2g("airdemo_Luat_V1103_RDA8910", "1.0.1")))
            assert.equal(200, st, pkg)
            -- the same package as the 2G form's for the same core, as 206 for bytes=0-
            local body, h
            st, body, h = T.curl(fsrv.url(q724("airdemo_Luat_RDA8910", 1103, "1.0.1")), from0)
            assert.equal(206, st, body)
            assert.truthy(body == pkg, "not the 2G form's package")
            assert.equal(h2g.etag, h.etag)
            assert.equal("bytes 0-" .. (#pkg - 1) .. "/" .. #pkg, h["content-range"])
            -- a cut download resumes from the bytes the module has (If-Range: the package's ETag)
            st, body, h = T.curl(fsrv.url(q724("airdemo_Luat_RDA8910", 1103, "1.0.1")),
                "-H 'Range: bytes=1000-' -H 'If-Range: " .. h2g.etag .. "'")
            assert.equal(206, st, body)
            assert.truthy(body == pkg:sub(1001), "not the package's tail")
            assert.equal("bytes 1000-" .. (#pkg - 1) .. "/" .. #pkg, h["content-range"])
            -- a real-style name with its core and the same core_version (Lua's tonumber: 0026 is 26)
            st, body = T.curl(fsrv.url(q724("airdemo_Luat_V1103_RDA8910", 1103, "1.0.1")), from0)
            assert.equal(206, st, body)
            assert.truthy(body == pkg)
            -- on the target: 27, as the 2G form
            for _, q in ipairs({ q724("airdemo_Luat_RDA8910", 1104, "1.0.2"),
                                 q2g("airdemo_Luat_V1104_RDA8910", "1.0.2") }) do
                st, body = T.curl(fsrv.url(q), from0)
                assert.equal(404, st, body)
                assert.truthy(body:find('"code":27', 1, true), body)
            end
            -- a base core no package is built for yet: 43, in a body the library reads whole (at most
            -- 200 bytes), then the package
            st, body = T.curl(fsrv.url(q724("airdemo_Luat_RDA8910", 1102, "1.0.1")), from0)
            assert.equal(503, st, body)
            assert.truthy(body:find('"code":43', 1, true) and #body <= 200, body)
            assert.equal("please wait", air724_msg(body))
            assert.equal(206, prime(q724("airdemo_Luat_RDA8910", 1102, "1.0.1", imei_for("air724-prime")), from0))
            -- 21 from a version the configuration does not list, as the 2G form
            admin("config set --project airdemo --firmware airdemo_LuatOS-SoC_RDA8910 --from 1.0.0")
            local refused = { T.curl(fsrv.url(q724("airdemo_Luat_RDA8910", 1103, "1.0.1")), from0) }
            local refused2g = { T.curl(fsrv.url(q2g("airdemo_Luat_V1103_RDA8910", "1.0.1"))) }
            admin("config set --project airdemo --firmware airdemo_LuatOS-SoC_RDA8910 --from any")
            for _, r in ipairs({ refused, refused2g }) do
                assert.equal(403, r[1], r[2])
                assert.truthy(r[2]:find('"code":21', 1, true), r[2])
            end
            -- the variant is part of the bsp: a TTS_FLOAT module gets the TTS_FLOAT release's package
            assert.equal(206, prime(q724("airdemo_Luat_RDA8910_TTS_FLOAT", 26, "1.0.1", imei_for("air724-tts")),
                from0))
            st, body, h = T.curl(fsrv.url(q724("airdemo_Luat_RDA8910_TTS_FLOAT", 26, "1.0.1")), from0)
            assert.equal(206, st, body)
            assert.are_not.equal(h2g.etag, h.etag)
            local tts = h.etag
            st, body, h = T.curl(fsrv.url(q2g("airdemo_Luat_V0026_RDA8910_TTS_FLOAT", "1.0.1")))
            assert.equal(200, st, body)
            assert.equal(tts, h.etag)
            -- ... a variant with no release of its own is unknown (26), never another variant's core
            st, body = T.curl(fsrv.url(q724("airdemo_Luat_RDA8910_TTS", 26, "1.0.1")), from0)
            assert.equal(404, st, body)
            assert.truthy(body:find('"code":26', 1, true), body)
            -- 44: the BT core needs a delta and no image of V26 is stored, in both forms
            for _, q in ipairs({ q724("airdemo_Luat_RDA8910_BT", 26, "1.0.1"),
                                 q2g("airdemo_Luat_V0026_RDA8910_BT", "1.0.1") }) do
                st, body = T.curl(fsrv.url(q), from0)
                assert.equal(409, st, body)
                assert.truthy(body:find('"code":44', 1, true), body)
            end
            -- contradictory or malformed: 400 with what is wrong, for the Air724 library in its form (the gist
            -- before ": ", or the start, in the 200 bytes it reads)
            for q, msg in pairs({
                [q724("airdemo_Luat_V1103_RDA8910", 1104, "1.0.1")] = "core_version 1104 contradicts",
                [q724("airdemo_Luat_RDA8910", "11x3", "1.0.1")] = "bad core_version",
                [q724("airdemo_Luat_RDA8910", "1103&core_version=1103", "1.0.1")] = "bad core_version",
                [q724("airdemo_LuatOS-SoC_RDA8910", 1103, "1.0.1")] = "core_version needs",
                [(q724("airdemo_Luat_RDA8910", 1103, "1.0.1"):gsub("dfota=1", "dfota=0"))] = "bad dfota",
                [q724("airdemo_Luat_RDA8910", 1103, "1.0.1") .. "&device_key=a%20b"] = "bad device_key",
            }) do
                st, body = T.curl(fsrv.url(q), from0)
                assert.equal(400, st, q .. ": " .. body)
                assert.equal(msg, air724_msg(body), q .. ": " .. body)
            end
            -- the 2G library's and LuatOS's as they were
            st, body = T.curl(fsrv.url(q2g("airdemo_Luat_RDA8910", "1.0.1") .. "&dfota=1"))
            assert.equal(400, st, body)
            assert.equal('{"code":26,"msg":"dfota without core_version"}', body)
            -- on the target, the Air724 library reads "already latest"; the 2G form's msg is whole
            st, body = T.curl(fsrv.url(q724("airdemo_Luat_RDA8910", 1104, "1.0.2")), from0)
            assert.equal(404, st, body)
            assert.equal("already latest", air724_msg(body), body)
            st, body = T.curl(fsrv.url(q2g("airdemo_Luat_V1104_RDA8910", "1.0.2")))
            assert.equal(404, st, body)
            assert.truthy(body:find('"msg":"already latest: V1104 1.0.2 is not newer than V1104 1.0.2"', 1, true), body)
            -- the log row notes the core sent apart
            local logged = T.fota_server(db, "log --imei " .. imei_for("air724-2"))
            assert.truthy(logged:find("firmware_name=airdemo_Luat_RDA8910", 1, true), logged)
            assert.truthy(logged:find("core_version=1103", 1, true), logged)
        end)

        it("update.request upgrades a device end to end", function()
            local out, status = sim("AIR_MODE=cb LUAT_FOTA_IOT_URL=" .. fsrv.base)
            expect(out, status, "I/user.air update result 1 true", "I/user.air UPGRADED 1.0.2 Luat_V1104_RDA8910")
        end)

        it("redir (need_oss_url=1): the package comes from the package host", function()
            local before = count(host.requests(), "GET /static/")
            local out, status = sim("AIR_MODE=redir LUAT_FOTA_IOT_URL=" .. fsrv.base)
            expect(out, status, "I/user.update.download true 302", "I/user.air UPGRADED 1.0.2")
            assert.equal(before + 1, count(host.requests(), "GET /static/"))
        end)

        it("the platform's refusals reach cbFnc(false) with the msg logged", function()
            admin("config set --project airdemo --firmware airdemo_LuatOS-SoC_RDA8910 --enabled 0")
            local out, status = sim("AIR_MODE=cb LUAT_FOTA_IOT_URL=" .. fsrv.base)
            admin("config set --project airdemo --firmware airdemo_LuatOS-SoC_RDA8910 --enabled 1")
            -- the Air724 form's answer: the msg's gist in the platform's form (docs/server.md)
            expect(out, status, "W/user.update.error 404 already latest\n", "I/user.air update result 1 false")
            assert.is_nil(out:find("UPGRADED", 1, true), out)
        end)
    end)
end)

describe("Lua 5.1 module compatibility", function()
    local compat = require "compat51"
    local saved

    before_each(function()
        saved = { module = rawget(_G, "module"), seeall = package.seeall, getn = table.getn }
        compat.install(_G)
    end)
    after_each(function()
        _G.module, package.seeall, table.getn = saved.module, saved.seeall, saved.getn
        package.loaded["airtest.deep.mod"], _G.airtest = nil, nil
    end)

    it("module(name, package.seeall): the chunk's globals are the module's, _G is seen", function()
        local chunk = assert(load([[
            local before = function() return x_marker end
            module(..., package.seeall)
            x_marker = 42
            function get() return x_marker, type(print), before() end
        ]], "=airtest"))
        chunk("airtest.deep.mod", "/some/file.lua")
        local m = package.loaded["airtest.deep.mod"]
        assert.equal(m, _G.airtest.deep.mod)
        assert.equal("airtest.deep.mod", m._NAME)
        assert.equal("airtest.deep.", m._PACKAGE)
        assert.equal(m, m._M)
        local v, p, b = m.get()
        assert.equal(42, v)
        assert.equal("function", p)
        assert.is_nil(b)   -- a closure made before module() keeps _G, as with 5.1's setfenv
        assert.is_nil(rawget(_G, "x_marker"))
    end)

    it("without package.seeall the module does not see _G; bad arguments are errors", function()
        local chunk = assert(load("module(...) function f() return print end", "=airtest"))
        chunk("airtest.deep.mod")
        assert.is_nil(package.loaded["airtest.deep.mod"].f())
        assert.has_error(function() compat.module(1) end, "bad argument #1 to 'module' (string expected, got number)")
        assert.has_error(function() table.getn(nil) end)
        assert.equal(3, table.getn({ 1, 2, 3 }))
        assert.equal(table.unpack, _G.unpack)
    end)

    it("common converts between UTF-8 and UCS-2", function()
        local common = require "luatos-air.common"
        assert.equal("\x4e\x2d\x65\x87", common.utf8ToUcs2be("中文"))
        assert.equal("中文", common.ucs2beToUtf8("\x4e\x2d\x65\x87"))
        assert.equal("A", common.ucs2ToUtf8("A\0"))
        assert.equal("\xEF\xBF\xBD", common.ucs2beToUtf8("\xD8\x00"))
        assert.has_error(function() common.utf8ToUcs2be("\xff") end)
        _G.common = nil
    end)
end)
