-- libfota.request(cb, url, storge_location): the package is staged, verified
-- and committed at the given path, not at the default staging area.
local T = require "testutil"

describe("libfota.request with storge_location", function()
    local srv, key, pub

    setup(function()
        key, pub = T.keypair(T.tmpdir("keys"))
        srv = T.start_server({ package = T.make_package({ key = key }) })
    end)
    teardown(function() srv.stop() end)

    it("stages at that path, verifies and commits it (code 0), and frees it", function()
        local dir = T.tmpdir("storge")
        local sys = T.device(dir)
        os.execute("mkdir -p " .. dir .. "/fota " .. dir .. "/elsewhere")
        T.write(dir .. "/fota/trusted.pem", pub)
        _G.PROJECT, _G.VERSION = "demo", "1.2.3"
        local libfota = T.fresh("libfota")
        local where = dir .. "/elsewhere/update.bin"
        local got
        libfota.request(function(code, info) got = { code, info } end, srv.url("/pkg"), where)
        sys.run()
        _G.PROJECT, _G.VERSION = nil, nil
        assert.equal(0, got[1], got[2] and (tostring(got[2].reason) .. " " .. tostring(got[2].msg)))
        local st = fota.state()
        assert.is_true(st.trying)
        assert.same({ "V1104", "1.2.4" }, { st.running.core, st.running.version })
        assert.is_nil(T.read(where))                       -- committed: freed
        assert.is_nil(T.read(dir .. "/fota/stage.bin"))    -- the default area was never used
    end)

    it("works on the simulator, where the path is the module's file system", function()
        local work = T.tmpdir("storge-sim")
        local proj = work .. "/proj"
        os.execute("mkdir -p " .. proj)
        T.write(proj .. "/main.lua", table.concat({
            'PROJECT = "demo"', 'VERSION = "1.2.3"',
            'local sys = require "sys"', 'local libfota = require "libfota"',
            'sys.taskInit(function()',
            '  if VERSION ~= "1.2.3" then log.info("main", "UPGRADED", VERSION) return end',
            '  libfota.request(function(r) log.info("main", "result", r) if r == 0 then rtos.reboot() end end,',
            '    os.getenv("PKG_URL"), "/upd.bin")',
            'end)', 'sys.run()' }, "\n"))
        T.write(work .. "/core.bin", require("simdevice").core_image("V1104"))
        T.write(srv.dir .. "/package.bin", T.make_package({ project = "demo", version = "1.2.4",
            core_image = work .. "/core.bin",
            script = 'VERSION = "1.2.4"\nlog.info("main", "UPGRADED", VERSION)\nsys.run()\n' }))
        local out, status = T.run(string.format("PKG_URL=%s bin/luatos-sim %s --device %s --max-boots 2",
            srv.url("/pkg"), proj, work .. "/dev"))
        T.write(srv.dir .. "/package.bin", T.make_package({ key = key }))
        assert.equal(0, status, out)
        assert.matches("result 0", out)
        assert.matches("UPGRADED 1.2.4", out)
    end)
end)
