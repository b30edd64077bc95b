local T = require "testutil"

describe("the end-to-end demo (the README's main command)", function()
    it("upgrades demo/fota over http, https and the platform query", function()
        local out, status = T.run("lua5.3 demo/run_fota_demo.lua")
        assert.equal(0, status, out)
        assert.truthy(out:find("package downloaded, verified and staged", 1, true), out)
        assert.truthy(out:find("https upgrade staged", 1, true), out)
        assert.truthy(out:find("platform sent the package", 1, true), out)
        assert.truthy(out:find("already latest (27)", 1, true), out)
        assert.truthy(out:find("demo ok", 1, true), out)
    end)
end)
