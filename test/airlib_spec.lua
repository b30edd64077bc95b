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
