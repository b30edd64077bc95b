-- fota-server on PostgreSQL (issue 17), beyond server_spec (which runs on both
-- stores): two instances over one database keep one device's day count between
-- them, and the server rides out a PostgreSQL restart without losing a log row.
-- Each spec gets a fresh database in the process's throwaway cluster (testutil).
local T = require "testutil"
local socket = require "socket"

if not T.has_store("postgresql") then return end   -- FOTA_TEST_STORES=sqlite

local new_imei = T.imei_maker("8620")

local function query(key, id, version)
    return string.format("project_key=%s&firmware_name=%s&version=%s&imei=%s", key, T.FW, version or "1103.1.3", id)
end

local function code_of(body) return tonumber((body or ""):match('"code":(%-?%d+)')) end

--- Call f every 0.2 s until it returns true or `seconds` have passed; returns its last result.
local function within(seconds, f)
    local deadline = socket.gettime() + seconds
    local ok = f()
    while not ok and socket.gettime() < deadline do
        socket.sleep(0.2)
        ok = f()
    end
    return ok
end

--- GET until the answer is not 503 (at most 20 s); returns status, body, headers.
local function get_ready(url)
    local status, body, headers
    within(20, function()
        status, body, headers = T.curl(url, "--max-time 5")
        return status ~= 503
    end)
    return status, body, headers
end

--- The log rows of a device, once done(rows) (at most 15 s: rows are written in batches).
local function log_rows(db, id, done)
    local rows
    within(15, function()
        rows = T.log_rows(db, id)
        return done(rows)
    end)
    return rows
end

--- GET every url at once: one curl each, started together (they wait on a FIFO
-- that opens when all are forked), then `wait`. Returns { status, body } per url.
local function race(urls)
    local dir = T.tmpdir("race")
    local sh = { "cd '" .. dir .. "' && mkfifo go || exit 1" }
    for i, u in ipairs(urls) do
        sh[#sh + 1] = string.format("{ timeout 10 cat go >/dev/null; env -u LD_PRELOAD curl -s --max-time 20 " ..
            "-o body%d -w '%%{http_code}' '%s' >status%d; } &", i, u, i)
    end
    -- every reader has the FIFO open (or is about to): opening it to write releases them all
    sh[#sh + 1] = "sleep 0.5; timeout 10 sh -c ': >go'; wait"
    T.write(dir .. "/race.sh", table.concat(sh, "\n") .. "\n")
    assert(os.execute("sh '" .. dir .. "/race.sh'"), "race.sh failed")
    local got = {}
    for i = 1, #urls do
        got[i] = { status = tonumber(T.read(dir .. "/status" .. i)), body = T.read(dir .. "/body" .. i) or "" }
    end
    return got
end

describe("fota-server on PostgreSQL: two instances over one database", function()
    local db, a, b

    setup(function()
        db = T.server_fixture({ store = "postgresql", key = "KEY2I" })
        -- one database and one data directory (T.data_dir(db)), two processes, two ports
        a = T.start_fota_server({ db = db, flush_ms = 30, lifetime = 120 })
        b = T.start_fota_server({ db = db, flush_ms = 30, lifetime = 120 })
    end)
    teardown(function()
        if a then a.stop() end
        if b then b.stop() end
    end)

    it("16 racing downloads by one device across both: exactly 6 packages, then 40 and a ban", function()
        assert.are_not.equal(a.port, b.port)
        -- each instance has the package built (43 until then) for other devices first
        assert.equal(200, (get_ready(a.url(query("KEY2I", new_imei())))))
        assert.equal(200, (get_ready(b.url(query("KEY2I", new_imei())))))
        local id = new_imei()
        local urls = {}
        for i = 1, 16 do urls[i] = (i % 2 == 1 and a or b).url(query("KEY2I", id)) end
        local packages, bans = 0, 0
        for i, r in ipairs(race(urls)) do
            if r.status == 200 then
                assert.equal("LFPK", r.body:sub(1, 4), "request " .. i)
                packages = packages + 1
            else
                assert.same({ 403, 40 }, { r.status, code_of(r.body) }, "request " .. i .. ": " .. r.body)
                bans = bans + 1
            end
        end
        assert.equal(6, packages)   -- the loop-upgrade limit of the day, across both instances
        assert.equal(10, bans)
        -- banned on both, whatever it asks
        for _, srv in ipairs({ a, b }) do
            local s, body = T.curl(srv.url(query("KEY2I", id, "1104.1.4")))
            assert.same({ 403, 40 }, { s, code_of(body) })
        end
        -- one log in the one database: every request, from either instance
        local rows = log_rows(db, id, function(r) return #r >= 18 end)
        local by_code = {}
        for _, r in ipairs(rows) do by_code[r.code] = (by_code[r.code] or 0) + 1 end
        assert.equal(18, #rows)
        assert.same({ [0] = 6, [40] = 12 }, by_code)
    end)
end)

describe("fota-server on PostgreSQL: a PostgreSQL restart", function()
    it("answers 503 with Retry-After while PostgreSQL is down, then again; the log keeps every request", function()
        local db = T.server_fixture({ store = "postgresql", key = "KEYPR" })
        -- rows are written every 2 s: the first requests' rows are (most likely) still queued when it stops
        local srv = T.start_fota_server({ db = db, flush_ms = 2000, lifetime = 120 })
        local down = false
        finally(function()
            if down then T.pg_up() end   -- the cluster serves the specs after this one
            srv.stop()
        end)
        local id, n = new_imei(), 0
        local answered = {}   -- the version each answered request sent: one of its own (not newer: 27)
        local function ask()
            n = n + 1
            local version = "1104.1." .. (3 + n)
            local t0 = socket.gettime()
            local s, body, h = T.curl(srv.url(query("KEYPR", id, version)), "--max-time 15")
            return s, body, h, socket.gettime() - t0, version
        end
        for _ = 1, 3 do
            local s, body, _, _, version = ask()
            assert.same({ 404, 27 }, { s, code_of(body) })
            answered[#answered + 1] = version
        end

        T.pg_down()
        down = true
        for i = 1, 3 do
            local s, body, h, took = ask()
            -- an answer, not a hang: the server does not wait for PostgreSQL to come back
            assert.equal(503, s, "while down, request " .. i .. ": " .. tostring(body))
            assert.truthy(h["retry-after"] and h["retry-after"]:match("^%d+$"), "Retry-After: " ..
                tostring(h["retry-after"]))
            assert.is_true(took < 10, "took " .. took .. " s")
        end

        T.pg_up()
        down = false
        -- back (within 30 s), probed by another device so that this one's day count is only its own
        local probe, s = new_imei(), nil
        within(30, function()
            s = T.curl(srv.url(query("KEYPR", probe, "1104.1.4")), "--max-time 5")
            return s and s ~= 503
        end)
        assert.equal(404, s)
        -- the checks before, during and after the outage handed nothing out: none counts towards the day's 6
        for _ = 1, 2 do
            local st, body, _, _, version = ask()
            assert.same({ 404, 27 }, { st, code_of(body) })
            answered[#answered + 1] = version
        end

        -- every answered request is in the log once (the 503s may be there too, as 503s)
        local was_answered, seen = {}, {}
        for _, v in ipairs(answered) do was_answered[v] = true end
        local function version_of(r) return r.request and r.request:match("version=([%d.]+)") end
        local rows = log_rows(db, id, function(r)
            local found = 0
            for _, row in ipairs(r) do if was_answered[version_of(row)] then found = found + 1 end end
            return found >= #answered
        end)
        for _, r in ipairs(rows) do
            local v = version_of(r)
            if r.status == 503 then
                assert.falsy(was_answered[v], v)
            else
                assert.same({ 404, 27 }, { r.status, r.code }, r.request)
                seen[#seen + 1] = v
            end
        end
        table.sort(seen)
        table.sort(answered)
        assert.same(answered, seen)
        assert.is_true(#rows <= #answered + 3, #rows .. " rows")
    end)
end)
