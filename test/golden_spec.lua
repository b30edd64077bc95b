-- Golden outputs: each test/golden/NAME/main.lua was run once in LuatOS's own VM (its PC build,
-- /work/shared/luatos-pc, see docs/simulator.md "Golden outputs"); its filtered output is
-- test/golden/NAME/expected.txt. Here each runs in bin/luatos-sim and must print the same lines,
-- except the entries of test/golden/known-differences.lua (each pinned to luatos-sim's line, with a reason).
local T = require "testutil"
local socket = require "socket"
local filter = dofile("test/golden/filter.lua")
local known = dofile("test/golden/known-differences.lua")

local NAMES = { "sys_timers", "sys_tasks", "json", "crypto", "zbuff", "string_ext", "fskv", "io_ext",
    "log_format", "rtos_shape", "http_codes" }

local function expected_lines(name)
    local text = assert(T.read("test/golden/" .. name .. "/expected.txt"), "no expected.txt for " .. name)
    local lines = {}
    for line in text:gmatch("([^\n]*)\n") do
        if not line:match("^#") then lines[#lines + 1] = line end   -- "#" lines: the file's header
    end
    return lines
end

--- The fixture server for http_codes; returns its folder and a stop function.
local function start_server()
    local dir = T.tmpdir("golden-http")
    T.write(dir .. "/package.bin", "golden package bytes 0123456789")
    os.execute("lua5.3 test/fixture_server.lua " .. dir .. " 60 >/dev/null 2>&1 &")
    for _ = 1, 100 do
        if T.read(dir .. "/port") then break end
        os.execute("sleep 0.05")
    end
    local port = assert(T.read(dir .. "/port"), "fixture server did not start")
    return port, function()
        local c = socket.connect("127.0.0.1", tonumber(port))
        if c then
            c:settimeout(2)
            c:send("GET /quit HTTP/1.1\r\nHost: x\r\n\r\n")
            c:receive("*a")
            c:close()
        end
    end
end

--- Runs test/golden/NAME in luatos-sim on a fresh device; returns the filtered lines and the raw output.
local function run_sim(name)
    local dev = T.tmpdir("golden-" .. name) .. "/dev"
    local stop
    if name == "http_codes" then
        local port
        port, stop = start_server()
        os.execute("mkdir -p " .. dev .. "/fs")
        T.write(dev .. "/fs/golden_port", port)
    end
    local out, status = T.run("bin/luatos-sim test/golden/" .. name .. " --max-boots 1 --exit-reboot-delay 0" ..
        " --device " .. dev)
    if stop then stop() end
    return filter.lines(out), out, status
end

--- The longest common subsequence of a and b, as a list of {i, j} pairs.
local function lcs(a, b)
    local n, m = #a, #b
    local L = {}
    for i = n + 1, 1, -1 do
        L[i] = {}
        for j = m + 1, 1, -1 do
            if i > n or j > m then L[i][j] = 0
            elseif a[i] == b[j] then L[i][j] = L[i + 1][j + 1] + 1
            else L[i][j] = math.max(L[i + 1][j], L[i][j + 1]) end
        end
    end
    local pairs_, i, j = {}, 1, 1
    while i <= n and j <= m do
        if a[i] == b[j] then pairs_[#pairs_ + 1] = { i, j }; i, j = i + 1, j + 1
        elseif L[i + 1][j] >= L[i][j + 1] then i = i + 1
        else j = j + 1 end
    end
    return pairs_
end

--- Compares line by line (a known difference stands for LuatOS's line); returns nil when equal,
-- else a diff: "-" LuatOS's line missing in luatos-sim's output, "+" luatos-sim's line LuatOS did not print.
local function compare(name, want, got, known_list)
    local subst = {}
    for _, k in ipairs(known_list or known) do
        if k.test == name then subst[k.expected] = k end
    end
    local used, w = {}, {}
    for i, line in ipairs(want) do
        local k = subst[line]
        if k then used[k] = true end
        w[i] = k and k.luatos_sim or line   -- a recorded difference: luatos-sim's line is pinned too
    end
    local report = {}
    for _, k in pairs(subst) do
        if not used[k] then
            report[#report + 1] = "known difference not in expected.txt (stale entry?): " .. k.expected
        end
    end
    local equal = #w == #got
    for i = 1, #w do equal = equal and w[i] == got[i] end
    if equal and #report == 0 then return nil end
    if not equal then
        local i, j = 1, 1
        local common = lcs(w, got)
        common[#common + 1] = { #w + 1, #got + 1 }
        for _, pr in ipairs(common) do
            while i < pr[1] do
                report[#report + 1] = string.format("- LuatOS     (expected line %d): %s", i, w[i]); i = i + 1
            end
            while j < pr[2] do
                report[#report + 1] = string.format("+ luatos-sim (output line %d):   %s", j, got[j]); j = j + 1
            end
            i, j = i + 1, j + 1
        end
    end
    return name .. ": luatos-sim differs from LuatOS's VM (test/golden/" .. name .. "/expected.txt)\n" ..
        table.concat(report, "\n")
end

describe("golden outputs from LuatOS's own VM", function()
    for _, name in ipairs(NAMES) do
        it(name, function()
            local want = expected_lines(name)
            local got, raw, status = run_sim(name)
            assert.equal(0, status, raw)
            local diff = compare(name, want, got)
            assert(diff == nil, (diff or "") .. "\n--- luatos-sim's whole output:\n" .. raw)
        end)
    end

    it("every known difference names a golden test, both lines and a reason", function()
        local names = {}
        for _, n in ipairs(NAMES) do names[n] = true end
        for _, k in ipairs(known) do
            assert(names[k.test], "unknown test " .. tostring(k.test))
            assert(type(k.expected) == "string" and type(k.luatos_sim) == "string", k.test)
            assert(type(k.reason) == "string" and #k.reason > 10, "a reason for " .. k.expected)
        end
    end)

    it("the comparison reports a changed line", function()
        local d = compare("io_ext", { "GOLDEN a", "GOLDEN b", "GOLDEN d" }, { "GOLDEN a", "GOLDEN c", "GOLDEN d" })
        assert.truthy(d and d:find("- LuatOS     (expected line 2): GOLDEN b", 1, true), d)
        assert.truthy(d:find("+ luatos-sim (output line 2):   GOLDEN c", 1, true), d)
        assert.is_nil(d:find("GOLDEN d", 1, true), d)
        assert.truthy(compare("io_ext", { "x" }, {}):find("- LuatOS     (expected line 1): x", 1, true))
        assert.is_nil(compare("io_ext", { "x" }, { "x" }))
        -- a known difference stands for LuatOS's line; luatos-sim's line is pinned, a stale one reported
        local list = { { test = "io_ext", expected = "L", luatos_sim = "S", reason = "a test of the test" } }
        assert.is_nil(compare("io_ext", { "a", "L" }, { "a", "S" }, list))
        assert.truthy(compare("io_ext", { "a", "L" }, { "a", "L" }, list))
        assert.truthy(compare("io_ext", { "a" }, { "a" }, list):find("stale entry", 1, true))
    end)
end)
