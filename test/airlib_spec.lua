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
        -- the running release is refused at its header: the download stops there (issue 28)
        assert.truthy(second:find("package refused: same_release", 1, true), out)
        assert.truthy(second:find("upd fota_process refused after\t0", 1, true), out)
        assert.truthy(second:find("upd fota_end\t-1\tfalse", 1, true), out)
        assert.falsy(second:find("upd received", 1, true), out)
        assert.falsy(out:find("boot 3:", 1, true), out)
        assert.falsy(out:find("rolled back", 1, true), out)
    end)
end)

describe("LuatOS-Air project with its own library against fota-server", function()
    local fsrv
    setup(function()
        local files = {}
        for _, f in ipairs({ "sys.lua", "utils.lua", "ril.lua", "upd.lua" }) do
            files[f] = T.read("test/compat/airlib/" .. f)
        end
        files["main.lua"] = T.read("test/compat/airlib/main.lua"):gsub('VERSION = "1.0.0"', 'VERSION = "1.0.1"')
        fsrv = T.air_fota_server({ name = "airlib", key = "airlibkey", lua_project = "AIRLIB", files = files,
            seed = 31, lifetime = 60 })
    end)
    teardown(function() fsrv.stop() end)

    it("the Air724 query: 43 asked again, the package staged, the new VERSION confirmed, then 27", function()
        local dev = T.tmpdir("airlib-fs") .. "/d"
        local imei = require("simdevice").imei_for(dev)
        local url = fsrv.base .. "?project_key=airlibkey&imei=" .. imei ..
            "&firmware_name=AIRLIB_Luat_RDA8910&core_version=1103&dfota=1"
        local out, status = T.run("AIRLIB_WAIT_MS=300 AIRLIB_URL='" .. url .. "' bin/luatos-sim test/compat/airlib " ..
            "--air --max-boots 3 --net-delay 50 --imei " .. imei .. " --device " .. dev)
        assert.equal(0, status, out)
        local b2 = out:find("boot 2:", 1, true)
        assert.truthy(b2 and not out:find("boot 3:", 1, true), out)
        local first, second = out:sub(1, b2), out:sub(b2)
        assert.truthy(first:find("upd answer\t503\t43", 1, true), out)
        assert.truthy(first:find("upd status\t206", 1, true), out)
        assert.truthy(first:find("package 1.0.1 staged", 1, true), out)
        assert.truthy(second:find("script 1.0.1", 1, true), out)
        assert.truthy(second:find("new image confirmed", 1, true), out)
        assert.truthy(second:find("upd answer\t404\t27", 1, true), out)
        assert.truthy(second:find("upd fota_end\t-1\tfalse", 1, true), out)
        assert.falsy(second:find("fota_process", 1, true), out)
    end)
end)

describe("LuatOS-Air's iconv", function()
    it("converts UTF-8 to and from UCS-2 either way round, as lib/common.lua's helpers use it", function()
        local iconv = require("luatos-air.airnative").iconv()
        local be = iconv.open("ucs2be", "utf8"):iconv("升级 ok")
        assert.equal("5347 7EA7 0020 006F 006B", be:gsub("..", function(u)
            return string.format("%04X ", string.unpack(">I2", u)) end):sub(1, -2))
        assert.equal("升级 ok", iconv.open("utf8", "ucs2be"):iconv(be))
        assert.equal("ok", iconv.open("utf8", "ucs2"):iconv(iconv.open("ucs2", "utf8"):iconv("ok")))
        -- the update library's message decoding: "\u5347\u7ea7" -> hex -> UCS-2 BE -> UTF-8
        local msg = ("\\u5347\\u7ea7"):gsub("\\u", ""):gsub("%x%x", function(h) return string.char(tonumber(h, 16)) end)
        assert.equal("升级", iconv.open("utf8", "ucs2be"):iconv(msg))
        assert.is_nil(iconv.open("gb2312", "ucs2"):iconv(be))      -- no GB2312 tables here
        assert.is_nil(iconv.open("ucs2", "utf8"):iconv("\xff\xfe"))   -- not UTF-8
    end)
end)
