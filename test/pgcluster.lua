-- One throwaway PostgreSQL cluster (test/pg/cluster.sh) for the whole busted
-- process, started on first use and stopped when the process ends. test/helper.lua
-- loads this module before the spec files: busted insulates each file (a module
-- first loaded inside one is unloaded after it), and one cluster should serve them
-- all. The specs use it through testutil (T.pg_database, T.pg_down, T.pg_up).
local M = {}

-- Never under an ASan LD_PRELOAD (sanitizer runs): PostgreSQL and psql are not instrumented.
local ENV = "env -u LD_PRELOAD "

local function run(cmd)
    local p = assert(io.popen(cmd .. " 2>&1; echo \"__status=$?\""))
    local out = p:read("a")
    p:close()
    return out:gsub("__status=%d+%s*$", ""), tonumber(out:match("__status=(%d+)%s*$"))
end

local function line(cmd) return (run(cmd):match("^[^\n]*")) end

-- the spec process: the parent of the shell io.popen runs
local PID = tonumber(line("echo $PPID"))
local SCRIPT = line("pwd") .. "/test/pg/cluster.sh"

local state, statedir, url
local n_db = 0

--- Stop the cluster and remove its files (safe to repeat).
function M.stop()
    if not state then return end
    run(ENV .. "bash '" .. SCRIPT .. "' stop '" .. state .. "'")
    os.execute("rm -rf '" .. statedir .. "'")
    state, statedir, url = nil, nil, nil
end

--- The cluster's URL (its postgres database), starting it on first use.
function M.url()
    if url then return url end
    assert(os.execute("mkdir -p /tmp/luat-fota-test"))
    local dir = line("mktemp -d /tmp/luat-fota-test/pgstate-XXXXXXXX")
    assert(dir and dir ~= "", "mktemp failed")
    state, statedir = dir .. "/cluster.url", dir
    local out, status = run(ENV .. "bash '" .. SCRIPT .. "' start '" .. state .. "'")
    if status ~= 0 then
        local s = state
        M.stop()
        error("PostgreSQL cluster did not start (" .. s .. "): " .. out, 2)
    end
    url = assert(out:match("(postgresql://%S+)"), out)
    -- Stopped when this Lua state closes (busted's exit: lua_close runs __gc) ...
    M._sentinel = setmetatable({}, { __gc = function() M.stop() end })
    -- ... and by a watchdog if the process dies without closing (a signal, a crash).
    -- setsid: a ^C to the terminal's process group must not take the watchdog with it.
    os.execute(string.format(ENV .. "setsid sh -c 'while kill -0 %d 2>/dev/null; do sleep 1; done; " ..
        "%s bash \"%s\" stop \"%s\"; rm -rf \"%s\"' >/dev/null 2>&1 </dev/null &", PID, ENV, SCRIPT, state, dir))
    return url
end

--- A fresh empty database in the cluster (a name unique per call); its URL.
function M.database()
    local base = M.url()
    n_db = n_db + 1
    local name = string.format("fota_%d_%d", PID, n_db)
    local out, status = run(string.format("%s psql -X -q -v ON_ERROR_STOP=1 -d '%s' -c 'CREATE DATABASE %s'",
        ENV, base, name))
    assert(status == 0, "CREATE DATABASE " .. name .. ": " .. out)
    return (base:gsub("/[^/]*$", "/" .. name))
end

--- Stop PostgreSQL (same port and data kept) / start it again: the restart specs.
function M.down()
    assert(state, "no cluster")
    local out, status = run(ENV .. "bash '" .. SCRIPT .. "' down '" .. state .. "'")
    assert(status == 0, "cluster down: " .. out)
end

function M.up()
    assert(state, "no cluster")
    local out, status = run(ENV .. "bash '" .. SCRIPT .. "' up '" .. state .. "'")
    assert(status == 0, "cluster up: " .. out)
end

--- Whether a cluster is running now (started and not stopped).
function M.running() return url ~= nil end

return M
