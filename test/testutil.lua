-- Shared helpers for the specs.
local M = {}

M.build = os.getenv("FOTA_BUILD") or "build"

--- A fresh empty directory for one test.
function M.tmpdir(name)
    -- mktemp: unique even across test runs started in the same second
    assert(os.execute("mkdir -p /tmp/luat-fota-test"))
    local p = assert(io.popen("mktemp -d /tmp/luat-fota-test/" .. name .. "-XXXXXXXX"))
    local dir = p:read("l")
    p:close()
    assert(dir and dir ~= "", "mktemp failed")
    return dir
end

function M.read(path)
    local f = io.open(path, "rb")
    if not f then return nil end
    local s = f:read("a")
    f:close()
    return s
end

function M.write(path, data)
    local f = assert(io.open(path, "wb"))
    f:write(data)
    f:close()
end

--- Run a shell command; returns its output and exit status.
function M.run(cmd)
    local p = assert(io.popen(cmd .. " 2>&1; echo \"__status=$?\""))
    local out = p:read("a")
    p:close()
    local status = tonumber(out:match("__status=(%d+)%s*$"))
    return out:gsub("__status=%d+%s*$", ""), status
end

--- A fresh copy of a Lua module (sys keeps its timers in the module).
function M.fresh(name)
    package.loaded[name] = nil
    return require(name)
end

--- Bytes of a minimal staged "package": the 12-byte prefix then filler.
function M.pkg_bytes(total)
    return "LFPK" .. string.pack("<I2I2I4", 2, 0, total) .. string.rep("\xA5", total - 12)
end

local socket = require "socket"

--- Deterministic pseudo-random bytes (an incompressible "core image").
M.noise = require("simdevice").noise

--- A real package from build/fotapack. o: project, bsp, version, core
-- (e.g. "V1104"), core_image (a file) or core_size (noise), from_core and
-- from_core_version (ship the core as a delta against that image), key (PEM
-- path), script (text of main.lua). version = false / core = false leave
-- that half out: release_version (default "1.0.1") / release_core (default
-- "V1103") then name the release, runs_on ("V1103,V1104") what it pairs with;
-- reinstall marks it a reinstall.
function M.make_package(o)
    o = o or {}
    local dir = M.tmpdir("pkg")
    local args = { M.build .. "/fotapack build", "--project", o.project or "demo", "--bsp", o.bsp or "EC618",
        "-o", dir .. "/out.fota" }
    if o.version ~= false then
        -- main.lua alone, or a script folder with o.files (name -> content) beside it
        local main = o.files and (dir .. "/script/main.lua") or (dir .. "/main.lua")
        for name, content in pairs(o.files or {}) do
            os.execute("mkdir -p '" .. (dir .. "/script/" .. name):match("^(.*)/") .. "'")
            M.write(dir .. "/script/" .. name, content)
        end
        M.write(main, o.script or ('PROJECT = "demo"\nVERSION = "' .. (o.version or "1.2.4") .. '"\n'))
        table.insert(args, "--script " .. (o.files and (dir .. "/script") or main) ..
            " --version " .. (o.version or "1.2.4"))
    else
        table.insert(args, "--version " .. (o.release_version or "1.0.1"))
    end
    if o.core == false then table.insert(args, "--core-version " .. (o.release_core or "V1103")) end
    if o.runs_on then table.insert(args, "--runs-on " .. o.runs_on) end
    if o.reinstall then table.insert(args, "--reinstall") end
    if o.core ~= false then
        local image = o.core_image
        if not image then
            image = dir .. "/core.bin"
            M.write(image, M.noise(o.core_size or 100000, o.seed))
        end
        table.insert(args, "--to-core " .. image .. " --core-version " .. (o.core or "V1104"))
        if o.from_core then   -- a delta against this image
            table.insert(args, "--from-core " .. o.from_core .. " --from-core-version " .. o.from_core_version)
        end
    end
    if o.key then table.insert(args, "--key " .. o.key) end
    local out, status = M.run(table.concat(args, " "))
    assert(status == 0, out)
    return M.read(dir .. "/out.fota")
end

--- The next release of the compat project in dir: every file of it, main.lua
-- at VERSION 1.0.2 (from 1.0.1), core V1104, as a package.
function M.next_release(dir)
    local src = M.read(dir .. "/main.lua"):gsub('VERSION = "1.0.1"', 'VERSION = "1.0.2"')
    local files, list = {}, io.popen("cd " .. dir .. " && find . -type f ! -name main.lua")
    for name in list:lines() do files[name:sub(3)] = M.read(dir .. "/" .. name:sub(3)) end
    list:close()
    return M.make_package({ project = "compat", version = "1.0.2", core = "V1104", script = src,
                            files = next(files) and files or nil })
end

--- A signing key pair: private PEM path and public PEM text.
function M.keypair(dir)
    local out, status = M.run(string.format("%s/fotapack keygen -o %s/key.pem --pub %s/pub.pem", M.build, dir, dir))
    assert(status == 0, out)
    return dir .. "/key.pem", M.read(dir .. "/pub.pem")
end

--- Start test/fixture_server.lua on loopback; opts.tls / opts.clientauth
-- need the certificates in opts.dir (see M.make_certs). It exits by itself
-- after opts.lifetime seconds (default 60) if nobody stops it.
function M.start_server(opts)
    opts = opts or {}
    local dir = opts.dir or M.tmpdir("srv")
    if opts.package then M.write(dir .. "/package.bin", opts.package) end
    local cmd = string.format("lua5.3 test/fixture_server.lua '%s' %d %s %s >'%s/server.out' 2>&1 & echo $!",
        dir, opts.lifetime or 60, opts.tls and "tls" or "plain", opts.clientauth and "clientauth" or "", dir)
    local p = io.popen(cmd)
    local pid = tonumber(p:read("l"))
    p:close()
    local port
    for _ = 1, 100 do
        port = M.read(dir .. "/port")
        if port then break end
        socket.sleep(0.05)
    end
    assert(port, "fixture server did not start: " .. tostring(M.read(dir .. "/server.out")))
    local scheme = opts.tls and "https" or "http"
    return {
        dir = dir, port = tonumber(port),
        url = function(path) return string.format("%s://%s:%s%s", scheme, opts.host or "127.0.0.1", port, path) end,
        requests = function() return M.read(dir .. "/requests.log") or "" end,
        stop = function() os.execute("kill " .. pid .. " 2>/dev/null") end,
    }
end

--- A test CA, a server certificate for localhost/127.0.0.1, a client
-- certificate (plain and password-protected key) and an unrelated CA.
function M.make_certs(dir)
    local script = [[
set -e
cd '%s'
q() { "$@" >/dev/null 2>&1; }
ec="-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
q openssl req -x509 $ec -days 2 -subj /CN=test-ca -keyout ca.key -out ca.crt
q openssl req -x509 $ec -days 2 -subj /CN=other-ca -keyout other.key -out other.crt
echo 'subjectAltName=DNS:localhost,IP:127.0.0.1' > san.ext
q openssl req $ec -subj /CN=localhost -keyout server.key -out server.csr
q openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile san.ext -out server.crt
q openssl req $ec -subj /CN=device -keyout client.key -out client.csr
q openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -out client.crt
q openssl pkcs8 -topk8 -in client.key -out client-enc.key -passout pass:s3cret -v2 des3
]]
    assert(os.execute(string.format(script, dir)), "openssl failed")
    return {
        ca = M.read(dir .. "/ca.crt"), other = M.read(dir .. "/other.crt"),
        client_cert = M.read(dir .. "/client.crt"), client_key = M.read(dir .. "/client.key"),
        client_key_enc = M.read(dir .. "/client-enc.key"),
    }
end

--- Globals of a simulated module for in-process specs, with fresh modules.
-- Returns sys; log lines go to the returned table.
function M.device(dir, o)
    o = o or {}
    local simdevice = M.fresh("simdevice")
    simdevice.open(dir)
    local lines = {}
    local log = M.fresh("log")
    log.output({ write = function(_, s) lines[#lines + 1] = s end, flush = function() end })
    _G.log = log
    _G.rtos, _G.mobile, _G.mcu, _G.json = M.fresh("rtos"), M.fresh("mobile"), M.fresh("mcu"), M.fresh("json")
    _G.fota = M.fresh("fota")
    _G.fota.device(dir)
    require "strext"
    -- Factory flash: script VERSION o.version (default 1.2.3), core V1103.
    M.write(dir .. "/main.lua", 'VERSION = "' .. (o.version or "1.2.3") .. '"\n')
    M.write(dir .. "/core.bin", simdevice.core_image(o.core or "V1103"))
    assert(_G.fota.pack({ { "main.lua", dir .. "/main.lua" } }, dir .. "/script.lfsa"))
    assert(_G.fota.flash({ core = o.core or "V1103", core_image = dir .. "/core.bin",
        script = dir .. "/script.lfsa", version = o.version or "1.2.3" }))
    local sys = M.fresh("sys")
    M.fresh("fotaflow")
    return sys, lines
end

--- The stores the server specs run against: FOTA_TEST_STORES ("sqlite,postgresql",
-- the default) limits them.
function M.stores()
    local list = {}
    for kind in (os.getenv("FOTA_TEST_STORES") or "sqlite,postgresql"):gmatch("[^,%s]+") do
        assert(kind == "sqlite" or kind == "postgresql", "FOTA_TEST_STORES: unknown store " .. kind)
        list[#list + 1] = kind
    end
    return list
end

local pg = require "pgcluster"

--- A fresh empty PostgreSQL database in this process's throwaway cluster (started on
-- first use, stopped when the process ends: test/pgcluster.lua); its postgresql:// URL.
M.pg_database = pg.database
--- Stop the cluster's PostgreSQL / start it again (same port, same data).
M.pg_down, M.pg_up = pg.down, pg.up

local data_of = {}   -- db -> the data directory its fixture chose

--- True when the runs include kind ("postgresql": not under FOTA_TEST_STORES=sqlite).
function M.has_store(kind)
    for _, k in ipairs(M.stores()) do
        if k == kind then return true end
    end
    return false
end

--- A fresh empty store for one fixture: kind "sqlite" (a file in a new temp
-- directory) or "postgresql" (a new database). Returns db (what --db takes)
-- and that directory, which also holds the data directory (M.data_dir).
function M.new_store(kind, name)
    local dir = M.tmpdir(name or "store")
    local db = kind == "postgresql" and M.pg_database() or dir .. "/fota.db"
    data_of[db] = dir .. "/data"
    return db, dir
end

--- The data directory (--data) for db: its fixture's, else the server's
-- default for a file (FILE.d). A URL has no default: it needs new_store.
function M.data_dir(db)
    if data_of[db] then return data_of[db] end
    assert(not db:find("^postgres"), "no data directory for " .. db .. " (make it with T.new_store)")
    return db .. ".d"
end

--- build/fota-server with args against database db (a file or a URL, passed
-- as it is), with its data directory; returns output, status.
function M.fota_server(db, args)
    return M.run(string.format("%s/fota-server %s --db '%s' --data '%s'", M.build, args, db, M.data_dir(db)))
end

--- M.fota_server that must succeed; returns the output.
function M.admin(db, args)
    local out, status = M.fota_server(db, args)
    assert(status == 0, args .. ": " .. out)
    return out
end

--- `fota-server log --imei id`: its rows, oldest first, as { status, code, request, msg }.
function M.log_rows(db, id)
    local rows = {}
    for line in M.admin(db, "log --imei " .. id):gmatch("[^\n]+") do
        local f = {}
        for field in line:gmatch("[^\t]+") do f[#f + 1] = field end
        rows[#rows + 1] = { status = tonumber(f[3]), code = tonumber(f[4]), request = f[5], msg = f[6] }
    end
    return rows
end

--- A maker of valid (Luhn) IMEIs, distinct per call: 4 digits of prefix, then random and a count.
function M.imei_maker(prefix)
    local luhn_digit = require("simdevice").luhn_digit
    local n = 0
    return function()
        n = n + 1
        local body = string.format("%s%04d%06d", prefix, math.random(0, 9999), n)
        return body .. luhn_digit(body)
    end
end

M.FW = "demo_LuatOS-SoC_EC618"

--- The server specs' fixture: project demo (product key o.key, default KEY123,
-- owner alice), release V1104 + script 1.2.4 (core o.core1104, default noise),
-- with o.core1103 also V1103 + 1.0.0, configured for M.FW, in a new store of
-- kind o.store (default "sqlite"). Returns db, dir.
function M.server_fixture(o)
    o = o or {}
    local db, dir = M.new_store(o.store or "sqlite", "srvdb")
    os.execute("mkdir -p " .. dir .. "/script")
    M.write(dir .. "/script/main.lua", 'PROJECT = "demo"\nVERSION = "1.2.4"\n')
    M.write(dir .. "/core1104.bin", o.core1104 or M.noise(100000, 7))
    M.admin(db, "project add --name demo --key " .. (o.key or "KEY123") .. " --owner alice")
    if o.core1103 then
        os.execute("mkdir -p " .. dir .. "/old")
        M.write(dir .. "/old/main.lua", 'PROJECT = "demo"\nVERSION = "1.0.0"\n')
        M.write(dir .. "/core1103.bin", o.core1103)
        M.admin(db, string.format("firmware add --project demo --bsp EC618 --core-version V1103 --core %s "
            .. "--script %s --version 1.0.0", dir .. "/core1103.bin", dir .. "/old"))
    end
    M.admin(db, string.format("firmware add --project demo --bsp EC618 --core-version V1104 --core %s "
        .. "--script %s --version 1.2.4", dir .. "/core1104.bin", dir .. "/script"))
    M.admin(db, "config set --project demo --firmware " .. M.FW)
    return db, dir
end

--- A runner of bin/luatos-sim for the adapter specs: function(dir, args)
-- boots project dir on a new device (under a temporary directory named
-- name) with COMPAT_URL the fixture server srv's /pkg; returns T.run's.
function M.sim_against(srv, name)
    return function(dir, args)
        return M.run(string.format("COMPAT_URL=%s bin/luatos-sim %s --device %s/d --exit-reboot-delay 0 %s",
            srv.url("/pkg"), dir, M.tmpdir(name), args))
    end
end

--- An Air724 project on fota-server (a new SQLite store): project o.name
-- (key o.key, owner alice) whose LuatOS-Air release is V1103 (noise of seed
-- o.seed) + the script files o.files (name -> text) as version 1.0.1, the
-- name o.lua_project its devices ask for, configured; the server started
-- (o.lifetime s). Returns the server (start_fota_server's) and the db.
function M.air_fota_server(o)
    local dir = M.tmpdir(o.name .. "-srv")
    local db = dir .. "/fota.db"
    os.execute("mkdir -p " .. dir .. "/script")
    for name, text in pairs(o.files) do M.write(dir .. "/script/" .. name, text) end
    M.write(dir .. "/core1103.bin", M.noise(20000, o.seed))
    for _, args in ipairs({ "project add --name " .. o.name .. " --key " .. o.key .. " --owner alice",
        "firmware add --project " .. o.name .. " --lua-project " .. o.lua_project .. " --bsp RDA8910 " ..
            "--core-version V1103 --core " .. dir .. "/core1103.bin --script " .. dir .. "/script --version 1.0.1",
        "config set --project " .. o.name .. " --firmware " .. o.lua_project .. "_LuatOS-SoC_RDA8910" }) do
        local out, st = M.fota_server(db, args)
        assert(st == 0, args .. ": " .. out)
    end
    return M.start_fota_server({ db = db, flush_ms = 30, build_delay_ms = 300, lifetime = o.lifetime }), db
end

--- Start `fota-server serve` on a free loopback port. o: db (required: a file or
-- a URL, passed as it is; --data is M.data_dir(db) unless o.data; none when o.data == false), key
-- (PEM path), flush_ms, build_delay_ms, max_size, tls_cert + tls_key (https), package_url, lifetime (s, default 60:
-- it exits by itself). Returns port, base (the API url), url(query),
-- stop() (SIGTERM, waits for the exit; returns the exit code) and out().
function M.start_fota_server(o)
    local dir = M.tmpdir("fota-server")
    -- without --data the instance's temporary caches go under its own directory (a SIGKILL leaves them)
    local args = { (o.data == false and "TMPDIR='" .. dir .. "' " or "") .. M.build
        .. "/fota-server serve --listen 127.0.0.1:0", "--db '" .. o.db .. "'",
        "--port-file '" .. dir .. "/port'", "--lifetime " .. (o.lifetime or 60) }
    -- o.data == false: none (PostgreSQL keeps the files; the instance caches them in a temporary directory)
    if o.data ~= false then args[#args + 1] = "--data '" .. (o.data or M.data_dir(o.db)) .. "'" end
    if o.cache_size then args[#args + 1] = "--cache-size " .. o.cache_size end
    if o.key then args[#args + 1] = "--key '" .. o.key .. "'" end
    if o.flush_ms then args[#args + 1] = "--log-flush-ms " .. o.flush_ms end
    if o.build_delay_ms then args[#args + 1] = "--build-delay-ms " .. o.build_delay_ms end
    if o.max_size then args[#args + 1] = "--max-size " .. o.max_size end
    if o.tls_cert then args[#args + 1] = "--tls-cert '" .. o.tls_cert .. "' --tls-key '" .. o.tls_key .. "'" end
    if o.package_url then args[#args + 1] = "--package-url '" .. o.package_url .. "'" end
    local cmd = string.format("sh -c '%s >%s/out 2>&1 & echo $! >%s/pid; wait $!; echo $? >%s/exit' " ..
        ">/dev/null 2>&1 &", table.concat(args, " "):gsub("'", "'\\''"), dir, dir, dir)
    os.execute(cmd)
    local port
    for _ = 1, 200 do
        port = M.read(dir .. "/port")
        if port or M.read(dir .. "/exit") then break end
        socket.sleep(0.02)
    end
    assert(port, "fota-server did not start: " .. tostring(M.read(dir .. "/out")))
    local pid = tonumber(M.read(dir .. "/pid"))
    port = tonumber(port)
    -- https: by name, as the test certificate (and mbedTLS 2.28) want it
    local base = string.format(o.tls_cert and "https://localhost:%d/api/site/firmware_upgrade"
        or "http://127.0.0.1:%d/api/site/firmware_upgrade", port)
    return {
        dir = dir, port = port, base = base, pid = pid,
        url = function(query) return base .. "?" .. query end,
        out = function() return M.read(dir .. "/out") or "" end,
        stop = function()
            os.execute("kill -TERM " .. pid .. " 2>/dev/null")
            for _ = 1, 500 do
                local code = M.read(dir .. "/exit")
                if code then return tonumber(code) end
                socket.sleep(0.01)
            end
            os.execute("kill -KILL " .. pid .. " 2>/dev/null")
            return nil
        end,
    }
end

--- curl a url: status, body, headers (lower-case names). extra: curl options.
-- Without LD_PRELOAD: a preloaded ASan runtime (sanitizer runs) deadlocks curl.
function M.curl(url, extra)
    local dir = M.tmpdir("curl")
    local out = M.run(string.format("env -u LD_PRELOAD curl -s --max-time 20 -o '%s/body' -D '%s/head' %s '%s'",
        dir, dir, extra or "", url))
    local head = M.read(dir .. "/head") or ""
    local headers = {}
    for k, v in head:gmatch("([%w%-]+):%s*([^\r\n]*)") do headers[k:lower()] = v end
    return tonumber(head:match("^HTTP/%S+ (%d+)")), M.read(dir .. "/body") or "", headers, out
end

--- fota.download(url) polled until part of the body is in (10 s at most, on a loaded machine), as a
--- download cut half way: the transfer, bytes done, total.
function M.partial_download(url)
    local t = assert(fota.download({ url = url }))
    local host = require "fota.host"
    local done, total
    local deadline = host.ms() + 10000
    while host.ms() < deadline do
        local rc = t:poll(0)
        done, total = t:progress()
        if rc <= 0 or (total and done > 0 and done < total) then break end
    end
    return t, done, total
end

return M
