-- The fault-injection harness: a full upgrade (download, verify, commit,
-- reboot, confirm) repeated with the power cut at the 1st, 2nd, ... storage
-- write, until a run completes uncut. Every run must boot a valid image
-- after each cut and end running the new one.
local T = require "testutil"
local simdevice = require "simdevice"

local PROJECT = [[
PROJECT = "cut"
VERSION = "1.0.1"
local sys = require "sys"
local libfota = require "libfota"
sys.taskInit(function()
    local url = os.getenv("CUT_URL")
    if VERSION == "1.0.2" then
        fota.confirm()
        log.info("main", "UPGRADED", rtos.version())
        return
    end
    if not url then return end
    libfota.request(function(result)
        log.info("main", "result", result)
        if result == 0 then rtos.reboot() end
        -- anything else: try again, as a timerLoopStart caller would
        sys.timerStart(rtos.reboot, 10)
    end, url)
end)
sys.run()
]]

describe("power cut at every write of an upgrade", function()
    it("never bricks and always ends on the new image", function()
        local work = T.tmpdir("powercut")
        local proj = work .. "/proj"
        assert(os.execute("mkdir -p " .. proj))
        T.write(proj .. "/main.lua", PROJECT)
        local key, pub = T.keypair(work)
        T.write(work .. "/core.bin", simdevice.core_image("V1104"))
        local pkg = T.make_package({ project = "cut", version = "1.0.2", core = "V1104", key = key,
            core_image = work .. "/core.bin", script = PROJECT:gsub('"1.0.1"', '"1.0.2"') })
        local srv = T.start_server({ package = pkg, lifetime = 300 })

        -- A pristine device: flashed, provisioned with the key, never upgraded.
        local pristine = work .. "/pristine"
        local out, status = T.run("bin/luatos-sim " .. proj .. " --device " .. pristine .. " --confirm-after 0")
        assert.equal(0, status, out)
        T.write(pristine .. "/fota/trusted.pem", pub)

        local tried, bricked, lost, cuts = 0, 0, 0, 0
        for n = 1, 400 do
            local dev = work .. "/dev" .. n
            assert(os.execute(string.format("rm -rf %s && cp -a %s %s", dev, pristine, dev)))
            out, status = T.run(string.format(
                "CUT_URL=%s LUAT_FOTA_POWERCUT=%d bin/luatos-sim %s --device %s --max-boots 12",
                srv.url("/pkg"), n, proj, dev))
            tried = n
            if os.getenv("POWERCUT_VERBOSE") then print(("-- run %d\n%s"):format(n, out)) end
            local cut = out:find("luatos-sim: power cut", 1, true) ~= nil
            if status == 3 or out:find("boot failed", 1, true) then bricked = bricked + 1 end
            if status ~= 0 or not out:find("UPGRADED V1104", 1, true) then
                lost = lost + 1
                print(("run %d (status %s):\n%s"):format(n, tostring(status), out))
            end
            os.execute("rm -rf " .. dev)
            if cut then cuts = cuts + 1 else break end
        end
        srv.stop()
        print(string.format("power cuts tried: %d, bricked: %d, lost: %d", cuts, bricked, lost))
        assert.equal(0, bricked)
        assert.equal(0, lost)
        assert.is_true(cuts > 10, "too few writes cut: " .. cuts)
        assert.is_true(tried < 400, "the upgrade never completed uncut")
    end)
end)
