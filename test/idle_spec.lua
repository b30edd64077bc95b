-- A silent or dripping server cannot hold a transfer: idle_timeout (no byte
-- for that long) and min_rate end it with -8; fota.download and fota.request
-- take both options, and libfota2 passes them on.
local T = require "testutil"

describe("idle timeout", function()
    local srv, dir, sys

    setup(function() srv = T.start_server({ package = T.make_package() }) end)
    teardown(function() srv.stop() end)
    before_each(function()
        dir = T.tmpdir("idle")
        sys = T.device(dir)
    end)

    local function finish(t)
        local rc, msg
        repeat rc, msg = t:poll(50) until rc <= 0
        return rc, msg
    end

    -- /slow sends the headers of 100000 bytes, then nothing for 2.5 s, then closes.
    it("fails a silent download with -8", function()
        local t = assert(fota.download({ url = srv.url("/slow"), idle_timeout = 300 }))
        local rc, msg = finish(t)
        assert.equal(-8, rc)
        assert.matches("idle: no data for 300 ms", msg)
    end)

    it("fails a silent request with -8", function()
        local t = assert(fota.request({ url = srv.url("/slow"), idle_timeout = 300 }))
        local rc, msg = finish(t)
        assert.equal(-8, rc)
        assert.matches("idle", msg)
    end)

    it("checks its options", function()
        assert.has_error(function() fota.request({ url = srv.url("/pkg"), idle_timeout = -1 }) end)
        assert.has_error(function() fota.request({ url = srv.url("/pkg"), min_rate = "fast" }) end)
        local t = assert(fota.request({ url = srv.url("/latest"), idle_timeout = 5000, min_rate = 1 }))
        assert.equal(0, (finish(t)))
    end)

    it("reaches libfota2's callback as code 4 with error -8", function()
        _G.PROJECT, _G.VERSION = "demo", "1.2.3"
        local got
        T.fresh("libfota2").request(function(code, info) got = { code, info } end,
            { url = "###" .. srv.url("/slow"), idle_timeout = 300 })
        sys.run()
        _G.PROJECT, _G.VERSION = nil, nil
        assert.equal(4, got[1])
        assert.equal(-8, got[2].error)
    end)
end)
