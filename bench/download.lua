-- Download throughput of fota.download (polled the way libfota polls it,
-- with sys timers running) against curl, same loopback file, same run.
-- Usage: lua5.3 bench/download.lua [MB] [rounds]    (from the source tree, after a build)
package.path = "lib/?.lua;sim/?.lua;sim/luatos/?.lua;test/?.lua;" .. package.path
package.cpath = (os.getenv("FOTA_BUILD") or "build") .. "/?.so;" .. package.cpath
local T = require "testutil"
local host = require "fota.host"

local mb = tonumber(arg[1] or "32")
local rounds = tonumber(arg[2] or "5")
local size = mb * 1024 * 1024
local srv = T.start_server({ package = T.pkg_bytes(size), lifetime = 300 })
local url = srv.url("/pkg")
local dir = T.tmpdir("bench")

local sys = T.device(dir)
local function ours()
    local t0 = host.ms()
    sys.taskInit(function()
        local t = assert(fota.download({ url = url, max_size = size, resume = false }))
        while true do
            local rc, msg = t:poll(tonumber(os.getenv("POLL_MS") or "10"))
            if rc == 0 then break end
            assert(rc > 0, msg)
            sys.wait(1)
        end
        assert(select(1, t:progress()) == size)
        t:close()
    end)
    sys.run()
    return host.ms() - t0
end

local function curl()
    local t0 = host.ms()
    assert(os.execute("curl -s -o /dev/null " .. url))
    return host.ms() - t0
end

local function best(f)
    local b = math.huge
    for _ = 1, rounds do b = math.min(b, f()) end
    return b
end

ours(); curl()   -- warm up
local a, b = best(ours), best(curl)
srv.stop()
os.execute("rm -rf '" .. dir .. "'")
local function rate(ms) return mb / (math.max(ms, 1) / 1000) end
print(string.format("download %d MiB over loopback, best of %d", mb, rounds))
print(string.format("  %-22s %8.1f MB/s  (%d ms)", "fota.download (polled)", rate(a), a))
print(string.format("  %-22s %8.1f MB/s  (%d ms)", "curl", rate(b), b))
print(string.format("  ratio curl/ours: %.2fx (target <= 2x)", a / math.max(b, 1)))
