-- fota-server instances that share nothing but PostgreSQL (issue 33): every file
-- (images, script archives, vendor packages, built packages) is in the database, each
-- instance caches what it uses in a directory of its own, and a package built by one
-- is served by the others without building it again.
local T = require "testutil"
local socket = require "socket"

if not T.has_store("postgresql") then return end   -- FOTA_TEST_STORES=sqlite

local new_imei = T.imei_maker("8633")
local VFW = "fleetv_LuatOS-SoC_EC618"

local function query(key, version, fw, id)
    return string.format("project_key=%s&firmware_name=%s&version=%s&imei=%s", key, fw or T.FW, version,
        id or new_imei())
end

local function code_of(body) return tonumber((body or ""):match('"code":(%-?%d+)')) end

--- GET until the answer is not 503 (code 43: being built), at most `seconds` (default 20).
local function get_ready(url, seconds, extra)
    local deadline = socket.gettime() + (seconds or 20)
    local status, body, headers
    repeat
        status, body, headers = T.curl(url, "--max-time 5 " .. (extra or ""))
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

--- psql's rows for sql on db, one string per row.
local function psql(db, sql)
    local rows = {}
    local out = T.run(string.format("env -u LD_PRELOAD psql -X -qAt -d '%s' -c \"%s\"", db, sql))
    for l in out:gmatch("[^\n]+") do rows[#rows + 1] = l end
    return rows
end

describe("fota-server on PostgreSQL without --data", function()
    local base = T.noise(100000, 21)
    local new = base:sub(1, 30000) .. "fleet!!!" .. base:sub(30009, 70000) .. string.rep("\2", 500) .. base:sub(70501)
    local vendor = T.noise(4000, 22)
    local db, dir, a, b, c, d
    local FLUSH_MS = 100

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
        if c then os.execute("kill -KILL " .. c.pid .. " 2>/dev/null") end
        if d then d.stop() end
    end)

    it("serves every kind of package, and a second instance the first one's without a build", function()
        local cache_a = a.out():match("data (%S+),")
        assert.truthy(cache_a and cache_a:find("fota%-cache%-"), a.out())
        local got, etag = {}, {}
        for _, v in ipairs({ "1103.1.0", "1104.1.0" }) do
            local s, body, h = get_ready(a.url(query("KEYF1", v)))
            assert.equal(200, s, v .. ": " .. body)
            got[v], etag[v] = body, h.etag:match('"(%x+)"')
        end
        assert.truthy(inspect(got["1104.1.0"]):find("script version:%s+1.2.4"))
        assert.falsy(inspect(got["1104.1.0"]):find("core_", 1, true))
        if a.out():find("deltas: yes", 1, true) then
            assert.truthy(inspect(got["1103.1.0"]):find("core_delta", 1, true))
        end
        local s, body, vh = T.curl(a.url(query("KEYF1", "1104.1.0", VFW)))
        assert.same({ 200, vendor }, { s, body })
        got.vendor, etag.vendor = vendor, vh.etag:match('"(%x+)"')
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
        -- export takes the built packages and the vendor file from the database
        local out = T.admin(db, "export " .. dir .. "/export")
        assert.truthy(out:find("export: %d+ written"), out)
        local names = T.run("ls '" .. dir .. "/export'")
        for what, tag in pairs(etag) do   -- named by the package hash the ETag begins
            local name = names:match("(" .. tag .. "%x+%.fota)")
            assert.truthy(name, what .. ": " .. names)
            assert.equal(got[what], T.read(dir .. "/export/" .. name), what)
        end
        -- the temporary cache goes with the instance
        assert.equal(0, a.stop())
        a = nil
        assert.falsy(os.execute("test -d '" .. cache_a .. "'"))
    end)

    it("the other serves on: a cut download resumes there (206), nothing built twice, the log and counts exact",
        function()
        -- c builds slowly: a build is under way when it is killed; d has no size limit either
        c = T.start_fota_server({ db = db, data = false, flush_ms = FLUSH_MS, build_delay_ms = 700 })
        d = T.start_fota_server({ db = db, data = false, flush_ms = FLUSH_MS })
        local s, full = get_ready(c.url(query("KEYF1", "1102.1.0")))   -- the whole core: c builds it
        assert.equal(200, s)
        assert.equal(200, (get_ready(c.url(query("KEYF1", "1104.1.0")))))   -- script-only: a built it
        local x = new_imei()
        for _ = 1, 3 do assert.equal(200, (T.curl(c.url(query("KEYF1", "1104.1.0", nil, x))))) end
        -- checks on both all along
        local load = T.tmpdir("load")
        os.execute(string.format("/usr/bin/python3 test/fleet_load.py '%s/out' 1.5 8644 '%s' %d %d >/dev/null 2>&1 &",
            load, "project_key=KEYF1&firmware_name=" .. T.FW .. "&version=1104.1.4", c.port, d.port))
        -- a slow download from c, under way
        local q = new_imei()
        os.execute(string.format("/usr/bin/python3 test/fleet_load.py slow '%s/q' %d '%s' >/dev/null 2>&1 &",
            load, c.port, "/api/site/firmware_upgrade?" .. query("KEYF1", "1102.1.0", nil, q)))
        local got = 0
        for _ = 1, 100 do
            got = #(T.read(load .. "/q") or "")
            if got > 0 then break end
            socket.sleep(0.02)
        end
        assert.truthy(got > 0 and got < #full, "download under way: " .. got .. " of " .. #full)
        -- a build under way on c (1 s)
        local r = new_imei()
        s = T.curl(c.url(query("KEYF1", "1101.1.0", nil, r)))
        assert.equal(503, s)
        socket.sleep(0.3)
        os.execute("kill -KILL " .. c.pid)
        local killed_at = socket.gettime()
        socket.sleep(0.1)
        local part = T.read(load .. "/q") or ""
        assert.truthy(#part > 0 and #part < #full, #part)
        -- the download resumes on d, where it ended
        local body, h
        s, body, h = get_ready(d.url(query("KEYF1", "1102.1.0", nil, q)), 10, "-H 'Range: bytes=" .. #part .. "-'")
        assert.equal(206, s)
        assert.equal(string.format("bytes %d-%d/%d", #part, #full - 1, #full), h["content-range"])
        assert.equal(full, part .. body)
        -- the build c did not finish: d builds it (c's claim went with its connection)
        assert.equal(200, (get_ready(d.url(query("KEYF1", "1101.1.0", nil, r)), 10)))
        -- the day's count of x goes on where c left it: 3 more, then 40 and the ban
        for _ = 1, 3 do assert.equal(200, (get_ready(d.url(query("KEYF1", "1104.1.0", nil, x)), 10))) end
        local b40
        s, b40 = T.curl(d.url(query("KEYF1", "1104.1.0", nil, x)))
        assert.same({ 403, 40 }, { s, code_of(b40) })
        s, b40 = T.curl(d.url(query("KEYF1", "1104.1.3", nil, x)))
        assert.same({ 403, 40 }, { s, code_of(b40) })
        -- the load ends (1.5 s), then d writes its last rows and says what it built
        socket.sleep(math.max(0, 1.8 - (socket.gettime() - killed_at)))
        assert.equal(0, d.stop())
        local out, d_port = d.out(), d.port
        d = nil
        -- built once: d built only what c had not finished, and took the rest from the database
        assert.truthy(out:find("packages built here: 1, taken from the database: 2", 1, true), out)
        assert.same({ "1" }, psql(db, "SELECT banned FROM device WHERE imei='" .. x .. "'"))
        assert.same({ "7" }, psql(db, "SELECT n FROM device_day WHERE imei='" .. x .. "'"))
        -- every answered check is a log row, but for c's last flush interval
        local logged = {}
        for _, imei in ipairs(psql(db, "SELECT imei FROM log WHERE imei LIKE '8644%'")) do logged[imei] = true end
        local answered, lost, late = { [c.port] = 0, [d_port] = 0 }, 0, 0
        for l in (T.read(load .. "/out") or ""):gmatch("[^\n]+") do
            local port, imei, status, t = l:match("^(%d+) (%d+) (%d+) (%S+)$")
            port, status, t = tonumber(port), tonumber(status), tonumber(t)
            if status ~= 0 then
                answered[port] = answered[port] + 1
                if not logged[imei] then
                    assert.equal(c.port, port, "a row of d lost: " .. l)
                    lost = lost + 1
                    -- c writes every FLUSH_MS: only its last interval (1 s allowed on a loaded machine)
                    if t < killed_at - 1 then late = late + 1 end
                end
            end
        end
        print(string.format("\n  fleet: c answered %d checks, d %d; rows of c lost with it: %d",
            answered[c.port], answered[d_port], lost))
        assert.truthy(answered[c.port] > 0 and answered[d_port] > answered[c.port])
        assert.equal(0, late)
    end)
end)
