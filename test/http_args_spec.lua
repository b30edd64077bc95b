-- Headers reach the server, and hostile arguments to fota.request,
-- fota.download and http.request give a Lua error or a LuatOS error code,
-- never a crash (the ASan build runs this too).
local T = require "testutil"
local fota = require "fota"

describe("request arguments", function()
    local srv

    setup(function() srv = T.start_server({ package = "" }) end)
    teardown(function() srv.stop() end)

    local function poll(t)
        for _ = 1, 500 do
            local rc, msg = t:poll(20)
            if rc <= 0 then return rc, msg end
        end
        error("transfer did not finish")
    end

    it("sends a headers table as header lines (it crashed the simulator before)", function()
        local t = assert(fota.request({ url = srv.url("/echo-headers"),
            headers = { ["X-One"] = "1", ["X-Two"] = 2, ["X-Empty"] = "" } }))
        assert.equal(0, poll(t))
        assert.equal(200, t:status())
        assert.equal("x-empty=\nx-one=1\nx-two=2", t:body())
        t:close()
    end)

    it("takes an empty headers table and many headers", function()
        local many = {}
        for i = 1, 40 do many["X-H" .. i] = tostring(i) end
        for _, h in ipairs({ {}, many }) do
            local t = assert(fota.request({ url = srv.url("/echo-headers"), headers = h }))
            assert.equal(0, poll(t))
            assert.equal(200, t:status())
            t:close()
        end
    end)

    it("refuses headers that are no flat table of strings", function()
        local bad = {
            "text", 12, true,
            { [1] = "x" }, { [true] = "x" }, { x = {} }, { x = { y = "z" } }, { x = true },
            { x = function() end }, { ["X-A"] = "a\r\nInjected: 1" }, { ["X\nB"] = "v" },
            { ["X:Y"] = "v" },
        }
        for i, h in ipairs(bad) do
            local ok, err = pcall(fota.request, { url = srv.url("/echo-headers"), headers = h })
            assert.is_false(ok, "case " .. i)
            assert.truthy(tostring(err):find("headers", 1, true), err)
        end
    end)

    it("refuses a huge headers table with an error, not a crash", function()
        local big = {}
        for i = 1, 50000 do big["X-" .. i] = string.rep("v", 20) end
        local ok, err = pcall(fota.request, { url = srv.url("/echo-headers"), headers = big })
        assert.is_false(ok)
        assert.truthy(err:find("more than 8192 bytes", 1, true), err)
    end)

    it("refuses names the core does not accept as a bad request (-11)", function()
        local t, code = fota.request({ url = srv.url("/echo-headers"), headers = { ["Bad Name"] = "x" } })
        assert.is_nil(t)
        assert.equal(-11, code)
    end)

    it("gives every option of the wrong type a Lua error or an error code", function()
        local values = { 1, true, {}, { 1, 2 }, { a = { b = {} } }, function() end, "", string.rep("x", 70000) }
        local options = { "url", "method", "headers", "body", "timeout", "connect_timeout", "server_cert",
                          "client_cert", "client_key", "client_password", "max_redirects", "max_body", "dst",
                          "path", "max_size", "resume" }
        for _, fn in ipairs({ "request", "download" }) do
            for _, name in ipairs(options) do
                for _, v in ipairs(values) do
                    local opts = { url = srv.url("/echo-headers"), path = T.tmpdir("args") .. "/p.bin" }
                    opts[name] = v
                    local ok, t, code = pcall(fota[fn], opts)
                    if ok and t then
                        local rc = poll(t)
                        assert.is_number(rc)
                        t:close()
                    elseif ok then
                        assert.is_number(code)
                    else
                        assert.is_string(t)
                    end
                end
            end
        end
        for _, v in ipairs({ nil, 1, "x", true }) do
            assert.is_false(pcall(fota.request, v))
            assert.is_false(pcall(fota.download, v))
        end
    end)

    it("http.request as on a module: a zbuff body, -4 alone for a url it cannot use", function()
        local sys = require "sys"
        local http = require "http"
        local zbuff = require "fota.zbuff"
        local buf = zbuff.create(64)
        buf:write("from a zbuff")
        local sent, bad, refused
        sys.taskInit(function()
            sent = table.pack(http.request("POST", srv.url("/echo-body"), nil, buf).wait())
            bad = table.pack(http.request("GET", "ftp://example/x").wait())
            refused = table.pack(http.request("GET", "http://127.0.0.1:1/x", nil, nil, { timeout = 2000 }).wait())
        end)
        sys.run()
        assert.equal(200, sent[1])
        -- LuatOS's VM gives the answer's length for a zbuff body (test/golden/http_codes/expected.txt);
        -- /echo-body answers with what it received
        assert.equal(#"from a zbuff", sent[3])
        assert.same({ n = 1, -4 }, bad)
        assert.same({ n = 1, -4 }, refused)
    end)

    it("http.request with a headers table, and hostile arguments, from a task", function()
        local sys = require "sys"
        local http = require "http"
        local got, errs = nil, {}
        sys.taskInit(function()
            local code, _, body = http.request("GET", srv.url("/echo-headers"), { ["X-Req"] = "yes" }).wait()
            got = { code, body }
            for _, args in ipairs({
                { "GET", srv.url("/echo-headers"), { x = {} } },
                { "GET", srv.url("/echo-headers"), { [1] = 2 } },
                { "GET", srv.url("/echo-headers"), nil, { 1 } },
                { "GET", srv.url("/echo-headers"), nil, nil, { timeout = {} } },
                { {}, srv.url("/echo-headers") },
                { "GET", 12 },
            }) do
                local ok, code2 = pcall(function() return http.request(table.unpack(args, 1, 5)).wait() end)
                errs[#errs + 1] = ok and code2 or "error"
            end
        end)
        sys.run()
        assert.same({ 200, "x-req=yes" }, got)
        assert.equal(6, #errs)
        for _, e in ipairs(errs) do
            assert.truthy(e == "error" or (math.type(e) == "integer" and e < 0), tostring(e))
        end
    end)
end)
