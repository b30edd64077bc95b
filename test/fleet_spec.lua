-- fota-server instances that share nothing but PostgreSQL (issue 33): every file
-- (images, script archives, vendor packages, built packages) is in the database, each
-- instance caches what it uses in a directory of its own, and a package built by one
-- is served by the others without building it again.
local T = require "testutil"
local socket = require "socket"

local on_pg = false
for _, kind in ipairs(T.stores()) do on_pg = on_pg or kind == "postgresql" end
if not on_pg then return end   -- FOTA_TEST_STORES=sqlite

local new_imei = T.imei_maker("8633")
local VFW = "fleetv_LuatOS-SoC_EC618"

local function query(key, version, fw, id)
    return string.format("project_key=%s&firmware_name=%s&version=%s&imei=%s", key, fw or T.FW, version,
        id or new_imei())
end

local function code_of(body) return tonumber((body or ""):match('"code":(%-?%d+)')) end

--- GET until the answer is not 503 (code 43: being built), at most `seconds` (default 20).
local function get_ready(url, seconds)
    local deadline = socket.gettime() + (seconds or 20)
    local status, body, headers
    repeat
        status, body, headers = T.curl(url, "--max-time 5")
        if status ~= 503 then break end
        socket.sleep(0.1)
    until socket.gettime() > deadline
    return status, body, headers
end

local function inspect(bytes)
    local p = T.tmpdir("pkginfo") .. "/p.fota"
    T.write(p, bytes)
    return T.run(T.build .. "/fotapack inspect " .. p)
end

describe("fota-server on PostgreSQL without --data", function()
    local base = T.noise(100000, 21)
    local new = base:sub(1, 30000) .. "fleet!!!" .. base:sub(30009, 70000) .. string.rep("\2", 500) .. base:sub(70501)
    local vendor = T.noise(4000, 22)
    local db, dir, a, b

    setup(function()
        db, dir = T.server_fixture({ store = "postgresql", key = "KEYF1", core1103 = base, core1104 = new })
        T.write(dir .. "/vendor.bin", vendor)
        T.admin(db, "package add --project demo --firmware " .. VFW .. " --to 1105.1.2 --from any "
            .. dir .. "/vendor.bin")
        T.admin(db, "config set --project demo --firmware " .. VFW)
        -- the files the CLI cached are gone: only the database has them
        assert(os.execute("rm -rf '" .. T.data_dir(db) .. "'"))
        a = T.start_fota_server({ db = db, data = false, flush_ms = 30, max_size = 60000 })
        -- b would take 30 s for a build: it answers in time only with a's package
        b = T.start_fota_server({ db = db, data = false, flush_ms = 30, max_size = 60000, build_delay_ms = 30000 })
    end)
    teardown(function()
        if a then a.stop() end
        if b then b.stop() end
    end)

    it("serves every kind of package, and a second instance the first one's without a build", function()
        local cache_a = a.out():match("data (%S+),")
        assert.truthy(cache_a and cache_a:find("fota%-cache%-"), a.out())
        local got = {}
        for _, v in ipairs({ "1103.1.0", "1104.1.0" }) do
            local s, body = get_ready(a.url(query("KEYF1", v)))
            assert.equal(200, s, v .. ": " .. body)
            got[v] = body
        end
        assert.truthy(inspect(got["1104.1.0"]):find("script version:%s+1.2.4"))
        assert.falsy(inspect(got["1104.1.0"]):find("core_", 1, true))
        if a.out():find("deltas: yes", 1, true) then
            assert.truthy(inspect(got["1103.1.0"]):find("core_delta", 1, true))
        end
        local s, body = T.curl(a.url(query("KEYF1", "1104.1.0", VFW)))
        assert.same({ 200, vendor }, { s, body })
        -- b: the same packages, byte for byte, well before its 30 s build would end
        local t0 = socket.gettime()
        for _, v in ipairs({ "1103.1.0", "1104.1.0" }) do
            s, body = get_ready(b.url(query("KEYF1", v)), 10)
            assert.equal(200, s, v .. ": " .. tostring(body))
            assert.equal(got[v], body, v)
        end
        assert.truthy(socket.gettime() - t0 < 10)
        s, body = T.curl(b.url(query("KEYF1", "1104.1.0", VFW)))
        assert.same({ 200, vendor }, { s, body })
        -- the temporary cache goes with the instance
        assert.equal(0, a.stop())
        a = nil
        assert.falsy(os.execute("test -d '" .. cache_a .. "'"))
    end)
end)
