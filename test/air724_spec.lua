-- An Air724 project shaped like LuatOS-Air's public update demo
-- (test/compat/air724: the demos' boilerplate with net, netLed, pmd, pio,
-- errDump; require "update"; update.request at load), shipped without the
-- library: the simulator's stand-ins run it. It upgrades against a static
-- server and against fota-server (43 first, then the package), reboots into
-- the new VERSION, is confirmed, and then never downloads the same release
-- again; power cuts at the Air upgrade path's writes (rtos.fota_* in
-- sim/luatos-air/airfota.lua) leave a device that boots and upgrades.
local T = require "testutil"
local imei_for = require("simdevice").imei_for

local DIR = "test/compat/air724"

-- The next release's scripts (VERSION 1.0.1), as files for a package or a folder.
local function next_scripts()
    return T.read(DIR .. "/main.lua"):gsub('VERSION = "1.0.0"', 'VERSION = "1.0.1"'),
        { ["testUpdate.lua"] = T.read(DIR .. "/testUpdate.lua") }
end

local function sim(env, extra)
    local dev = T.tmpdir("air724-dev") .. "/d"
    local out, status = T.run(string.format("%s bin/luatos-sim %s --device %s --imei %s --max-boots 4 " ..
        "--net-delay 50 %s", env, DIR, dev, imei_for(dev), extra or ""))
    return out, status, dev
end

local function has(out, ...)
    for i = 1, select("#", ...) do
        local want = select(i, ...)
        assert.truthy(out:find(want, 1, true), "missing '" .. want .. "' in:\n" .. out)
    end
end

local function boots(out)
    local parts, at = {}, 1
    while true do
        local s = out:find("I/user.sim boot %d+:", at)
        if not s then break end
        local e = out:find("I/user.sim boot %d+:", s + 1)
        parts[#parts + 1] = out:sub(s, (e or #out + 1) - 1)
        at = s + 1
    end
    return parts
end

describe("An Air724 project as the public demos, on the simulator's stand-ins", function()
    local static

    setup(function()
        local main, files = next_scripts()
        static = T.start_server({ package = T.make_package({ project = "AIR724_DEMO", bsp = "RDA8910",
            version = "1.0.1", core = false, script = main, files = files }), lifetime = 120 })
    end)
    teardown(function() static.stop() end)

    it("boots, upgrades from a static server, runs the new VERSION confirmed, and stops a second download", function()
        local out, status = sim("AIR724_MODE=url AIR724_URL=" .. static.url("/pkg"))
        assert.equal(0, status, out)
        local b = boots(out)
        assert.equal(2, #b, out)
        -- the boilerplate's stand-ins: netLed drives its pins, errDump takes its address
        has(b[1], "I/user.air724 boot 1.0.0 Luat_V1103_RDA8910", "GPIO1 output 1", "GPIO4 output 1",
            "errDump.request udp://ota.airm2m.com:9072", "I/user.netLed state GPRS",
            "I/user.rtos.fota_end package 1.0.1 staged", "I/user.air724 update result true")
        has(b[2], "script 1.0.1 (new image on trial", "I/user.air724 boot 1.0.1",
            "new image confirmed: its scripts reached sys.run",
            "package refused: same_release (V1103 1.0.1 runs already), not downloaded further",
            "I/user.air724 update result false")
        assert.is_nil(out:find("rolled back", 1, true), out)
        local imei = out:match("imei (%d+)")
        has(static.requests(), "GET /pkg?project_key=air724key&imei=" .. imei ..
            "&firmware_name=AIR724_DEMO_Luat_RDA8910&core_version=1103&dfota=1&version=1.0.1|")
    end)

    it("a power cut at each kind of write of the Air upgrade path: the next boot upgrades", function()
        -- sampled (each run is 3 boots, CI's time is short): a package write (fota_process) and fota_end
        -- putting the verified package in place (airfota.lua also cuts at open, close and drop)
        for _, cut in ipairs({ "process:1", "rename:1" }) do
            local out, status, dev = sim("LUAT_FOTA_AIR_CUT=" .. cut .. " AIR724_MODE=url AIR724_URL=" ..
                static.url("/pkg"))
            assert.equal(0, status, out)
            local b = boots(out)
            has(out, "power cut before the Air upgrade's " .. cut:match("%a+") .. " write")
            -- the cut boot's image runs again whole, upgrades, and the new one is confirmed
            assert.truthy(#b == 3 or (#b == 2 and cut == "rename:1"), out)
            has(b[#b], "I/user.air724 boot 1.0.1", "new image confirmed")
            has(b[2], "I/user.air724 boot 1.0." .. (#b == 3 and "0" or "1"))
            assert.is_nil(T.read(dev .. "/fs/luazip/update.bin"), out)
        end
    end)
end)

describe("An Air724 project against fota-server", function()
    local fsrv, db

    setup(function()
        local main, files = next_scripts()
        files["main.lua"] = main
        fsrv, db = T.air_fota_server({ name = "air724", key = "air724key", lua_project = "AIR724_DEMO",
            files = files, seed = 28, lifetime = 120 })
    end)
    teardown(function() fsrv.stop() end)

    it("update.request(): 43 waited out, the package, the new VERSION confirmed, then 'already latest'", function()
        local out, status = sim("AIR724_MODE=iot LUAT_FOTA_AIR_WAIT_MS=300 LUAT_FOTA_IOT_URL=" .. fsrv.base)
        assert.equal(0, status, out)
        local b = boots(out)
        assert.equal(2, #b, out)
        has(b[1], "I/user.update.wait the server is building the package (43)", "I/user.update.download true 200",
            "I/user.rtos.fota_end package 1.0.1 staged", "W/user.sys.restart UPDATE_DOWNLOAD_SUCCESS")
        has(b[2], "I/user.air724 boot 1.0.1", "new image confirmed",
            "I/user.update.download true 404", "W/user.update.error 404 already latest\n")
        assert.is_nil(b[2]:find("fota_process", 1, true), out)
        -- one download: 43s and the final 27 are not packages
        local imei = out:match("imei (%d+)")
        local logged = T.fota_server(db, "log --imei " .. imei)
        local _, downloads = logged:gsub("\t200\t0\t", "")
        assert.equal(1, downloads, logged)
        assert.truthy(logged:find("core_version=1103", 1, true), logged)
    end)
end)
