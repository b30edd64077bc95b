-- The fault-injection harness: whole upgrades (download, verify, commit,
-- reboot, trial boot, confirm — or a rollback, or a boot-time apply) with the
-- power cut at sampled storage operations of any boot (port_fault.h:
-- LUAT_FOTA_FAULTS), in three modes (before, torn, lost: un-synced data
-- dropped) and in sequences of up to 5 cuts. Every run must boot a valid
-- image after each cut, never a core/script pair that was not released
-- together, end on the image the scenario expects, and never ask again for a
-- byte its storage holds ("refetched": the fixture looks at the staging
-- file when the request comes; what a cut dropped since the last 64 KiB
-- sync point is not held, and is fetched again).
-- Both storage layouts: files (posix) and a raw NOR flash partition for the
-- slots and the boot record (port_nor.h, LUAT_FOTA_NOR).
-- POWERCUT_SAMPLES=N (default 12) sets the single cuts per scenario, layout and mode
-- (op numbers spread over the whole run, jittered; all of them when N is
-- at least the run's operation count). The multi-cut plans (a double cut and
-- a sequence of 5 per mode) also reach the whole run: the double's first cut
-- falls in a third of the run that differs per mode, its second anywhere in
-- what is left; the sequence's k-th cut in the k-th fifth (deterministic
-- seeds). The table shows where their cuts landed.
local T = require "testutil"
local simdevice = require "simdevice"

local SAMPLES = tonumber(os.getenv("POWERCUT_SAMPLES")) or 12
local SEQUENCE = 5         -- cuts in the sequence plan (the other multi-cut plan is a double)
local FIFTHS = 5           -- the coverage table's columns: where in the run a multi-cut plan's cuts fell
local MODES = { "before", "torn", "lost" }
local LAYOUTS = { "posix", "nor" }

-- Run in a process of its own (the layout is in its environment): what the device boots now.
local CHECK = [[
local fota = require "fota"
fota.device(arg[1])
local st, err = fota.boot()
if not st then print("BRICKED " .. tostring(err)) return end
print("STATE " .. st.running.core .. " " .. st.running.version .. " " .. st.rollback_reason)
]]

local function project(body)
    return [[
PROJECT = "cut"
VERSION = "1.0.1"
local sys = require "sys"
sys.taskInit(function()
    local url = os.getenv("CUT_URL")
    if not url then return end   -- the factory boot
]] .. body .. [[
end)
sys.run()
]]
end

-- libfota: download, verify, commit, reboot; the new image confirms itself.
local UPGRADE = project([[
    if VERSION == "1.0.2" then fota.confirm() log.info("main", "UPGRADED", rtos.version()) return end
    require("libfota").request(function(result)
        log.info("main", "result", result)
        sys.timerStart(rtos.reboot, 10)   -- 0: into the new image; else try again
    end, url)
]])
-- LuatOS style: the package is only staged; the boot applies it.
local STAGE_ONLY = project([[
    if VERSION == "1.0.2" then fota.confirm() log.info("main", "UPGRADED", rtos.version()) return end
    log.info("fota.url", url)
    local t = fota.download({ url = url })
    local rc
    repeat rc = t:poll(10) sys.wait(1) until rc <= 0
    if rc == 0 and fota.verify() then fota.finish(true) else fota.finish(false) end
    sys.timerStart(rtos.reboot, 10)
]])
-- The new image never confirms: rolled back after its trial boots, the old
-- one asks no more.
local ROLLBACK = project([[
    if VERSION == "1.0.2" then sys.timerStart(rtos.reboot, 10) return end
    if fota.state().last_result == "rolled_back" then log.info("main", "ROLLED BACK") return end
    require("libfota").request(function(result)
        log.info("main", "result", result)
        sys.timerStart(rtos.reboot, 10)
    end, url)
]])

local function seeded(seed)
    local x = seed
    return function(n)   -- 1..n, deterministic
        x = (x * 1103515245 + 12345) % 2147483648
        return x % n + 1
    end
end

describe("power cuts in any boot of an upgrade", function()
    local work, key, pub, pkg, srv

    setup(function()
        work = T.tmpdir("powercut")
        key, pub = T.keypair(work)
        T.write(work .. "/core.bin", simdevice.core_image("V1104"))
        srv = T.start_server({ lifetime = 900 })
        T.write(work .. "/check.lua", CHECK)
    end)
    teardown(function() srv.stop() end)

    -- A factory device provisioned with the key, never upgraded.
    local function layout_env(layout, dev)
        return layout == "nor" and ("LUAT_FOTA_NOR=" .. dev .. "/slots ") or ""
    end

    local function pristine(name, script, layout)
        -- The release: core V1104 + this scenario's script as 1.0.2, signed.
        pkg = T.make_package({ project = "cut", version = "1.0.2", core = "V1104", key = key,
            core_image = work .. "/core.bin", script = (script:gsub('"1.0.1"', '"1.0.2"')) })
        T.write(srv.dir .. "/package.bin", pkg)
        local proj, dev = work .. "/" .. name, work .. "/" .. name .. "-" .. layout .. "-pristine"
        assert(os.execute("mkdir -p " .. proj .. " " .. dev .. "/fota"))
        T.write(proj .. "/main.lua", script)
        T.write(dev .. "/fota/trusted.pem", pub)
        local out, status = T.run(layout_env(layout, dev) .. "bin/luatos-sim " .. proj .. " --device " .. dev ..
            " --confirm-after 0")
        assert.equal(0, status, out)
        assert.equal(layout == "nor", T.read(dev .. "/slots.nor") ~= nil)
        return proj, dev
    end

    -- One run from a pristine copy with the cuts planned; what it ended as.
    local function run(proj, dev0, cuts, n, layout)
        local dev = work .. "/dev" .. n
        local plan = work .. "/plan" .. n
        assert(os.execute(string.format("rm -rf %s && cp -a %s %s", dev, dev0, dev)))
        local lines = { "ops 0" }
        for _, c in ipairs(cuts) do lines[#lines + 1] = "cut " .. c[1] .. " " .. c[2] end
        T.write(plan, table.concat(lines, "\n") .. "\n")
        os.remove(srv.dir .. "/deliveries.log")
        local out, status = T.run(string.format(
            "%sCUT_URL=%s LUAT_FOTA_FAULTS=%s bin/luatos-sim %s --device %s --max-boots 20 --confirm-after 0",
            layout_env(layout, dev), srv.url("/tracked?stage=" .. dev .. "/fota/stage.bin"), plan, proj, dev))
        if os.getenv("POWERCUT_VERBOSE") then print(("-- run %d\n%s"):format(n, out)) end
        local r = { out = out, status = status, hits = 0, ops = 0, refetched = 0 }
        for line in (T.read(plan) or ""):gmatch("[^\n]+") do
            if line:match("^hit ") then r.hits = r.hits + 1 end
            r.ops = tonumber(line:match("^ops (%d+)")) or r.ops
        end
        -- Bytes asked for again that the device's storage held when it asked.
        for line in (T.read(srv.dir .. "/deliveries.log") or ""):gmatch("[^\n]+") do
            local from, held = line:match("^(%d+) (%d+)$")
            r.refetched = r.refetched + math.max(0, tonumber(held) - tonumber(from))
        end
        -- Which boot each cut came in: what that boot had logged by then.
        r.boots = {}
        local segment = ""
        for line in (out .. "\n"):gmatch("([^\n]*)\n") do
            if line:match("^luatos%-sim: power cut") then
                local kind = segment:find("rolled back", 1, true) and "rollback"
                    or segment:find("applied at boot", 1, true) and "apply"
                    or segment:find("on trial", 1, true) and "trial"
                    or segment:find("fota.url", 1, true) and "download"
                    or segment:find("boot %d+:") and "idle" or "bootloader"
                r.boots[#r.boots + 1] = kind
            end
            if line:match("^luatos%-sim: .* %-> boot") then segment = "" else segment = segment .. line .. "\n" end
        end
        -- What the device boots now.
        local state = T.run(string.format("%sLUA_CPATH_5_3='%s/?.so;;' lua5.3 %s/check.lua %s",
            layout_env(layout, dev), T.build, work, dev))
        local core, version, reason = state:match("STATE (%S+) (%S+) (%S+)")
        r.bricked = status == 3 or not core or out:find("boot failed", 1, true) ~= nil
        r.core, r.version, r.bad_image = core, version, reason == "bad_image"
        os.execute("rm -rf " .. dev .. " " .. plan)
        return r
    end

    local function scenario(name, script, expect, layout)
        local proj, dev0 = pristine(name, script, layout)
        -- Uncut: how many storage operations the whole scenario takes.
        local base = run(proj, dev0, { { "before", 100000000 } }, 0, layout)
        assert.equal(0, base.hits)
        assert.same(expect, { base.core, base.version }, base.out)
        local total = base.ops
        assert.is_true(total > 50, "too few operations: " .. total)
        local rnd = seeded(#name * 7919 + total)
        local rows = {}
        local shift = rnd(3)
        for m, mode in ipairs(MODES) do
            local row = { runs = 0, cuts = 0, bricked = 0, mixed = 0, wrong = 0, refetched = 0, boots = {},
                          reach = {}, multi = 0, late_first = 0 }
            for f = 1, FIFTHS do row.reach[f] = 0 end
            local plans, multi = {}, {}
            local singles = math.min(SAMPLES, total)
            for i = 1, singles do   -- spread over every boot, jittered
                local at = singles == total and i
                    or math.max(1, (i - 1) * total // singles + rnd(math.max(1, total // singles)))
                plans[#plans + 1] = { { mode, at } }
            end
            -- Multi-cut plans: absolute targets over the whole run, each cut's N
            -- counted from the previous one (port_fault.h), so offsets.
            local third = (m + shift) % 3   -- which third the double's first cut falls in
            local first = third * total // 3 + rnd(math.max(1, total // 3))
            local targets = { { first, first + rnd(math.max(1, total - first)) } }
            local seq = {}
            for k = 1, SEQUENCE do
                local at = (k - 1) * total // SEQUENCE + rnd(math.max(1, total // SEQUENCE))
                seq[k] = math.max((seq[k - 1] or 0) + 1, at)
            end
            targets[2] = seq
            for _, t in ipairs(targets) do
                local cuts, prev = {}, 0
                for k, at in ipairs(t) do cuts[k] = { mode, at - prev } prev = at end
                plans[#plans + 1] = cuts
                multi[#plans] = t
            end
            for i, cuts in ipairs(plans) do
                local r = run(proj, dev0, cuts, i, layout)
                row.runs = row.runs + 1
                row.cuts = row.cuts + r.hits
                for _, kind in ipairs(r.boots) do row.boots[kind] = (row.boots[kind] or 0) + 1 end
                if multi[i] then   -- where the cuts that came fell, in fifths of the uncut run
                    for k = 1, math.min(r.hits, #multi[i]) do
                        local f = math.min(FIFTHS, (multi[i][k] - 1) * FIFTHS // total + 1)
                        row.reach[f] = row.reach[f] + 1
                        row.multi = row.multi + 1
                    end
                    if r.hits > 0 and multi[i][1] > 2 * total // 3 then row.late_first = row.late_first + 1 end
                end
                local ok_pair = (r.core == "V1103" and r.version == "1.0.1") or
                                (r.core == "V1104" and r.version == "1.0.2")
                if r.bricked then row.bricked = row.bricked + 1 end
                if r.core and not ok_pair then row.mixed = row.mixed + 1 end
                if r.bad_image or (r.core and ok_pair and (r.core ~= expect[1] or r.version ~= expect[2])) then
                    row.wrong = row.wrong + 1
                end
                row.refetched = row.refetched + r.refetched
                if r.bricked or not ok_pair or r.core ~= expect[1] or r.refetched > 0 then
                    local planned = {}
                    for _, c in ipairs(cuts) do planned[#planned + 1] = c[1] .. "@" .. c[2] end
                    print(("%s run %d (status %s, cuts %s): %s %s, re-fetched %d\n%s"):format(name, i,
                        tostring(r.status), table.concat(planned, ","), tostring(r.core), tostring(r.version),
                        r.refetched, r.out))
                end
            end
            rows[mode] = row
        end
        print(("\n%s on %s: %d storage operations uncut; per mode %d of them cut singly (POWERCUT_SAMPLES), a "
            .. "double cut and a sequence of %d"):format(name, layout, total, math.min(SAMPLES, total), SEQUENCE))
        print(("%-6s %-6s %5s %5s %8s %6s %6s %10s"):format("layout", "mode", "runs", "cuts", "bricked",
            "mixed", "wrong", "refetched"))
        for _, mode in ipairs(MODES) do
            local w = rows[mode]
            print(("%-6s %-6s %5d %5d %8d %6d %6d %10d"):format(layout, mode, w.runs, w.cuts, w.bricked,
                w.mixed, w.wrong, w.refetched))
        end
        for _, mode in ipairs(MODES) do
            local kinds = {}
            for kind, n in pairs(rows[mode].boots) do kinds[#kinds + 1] = kind .. " " .. n end
            table.sort(kinds)
            print(("%-6s cuts by boot: %s"):format(mode, table.concat(kinds, ", ")))
        end
        -- Multi-cut coverage: the cuts of the double and the sequence by where
        -- in the uncut run they were aimed (ops counted again after each cut).
        local head = {}
        for f = 1, FIFTHS do head[f] = ("%d-%d%%"):format((f - 1) * 100 // FIFTHS, f * 100 // FIFTHS) end
        print(("%-6s %-6s " .. ("%8s"):rep(FIFTHS)):format("multi", "mode", table.unpack(head)))
        local reached, late_first = {}, 0
        for _, mode in ipairs(MODES) do
            late_first = late_first + rows[mode].late_first
            local w = rows[mode]
            print(("%-6s %-6s " .. ("%8d"):rep(FIFTHS)):format(layout, mode, table.unpack(w.reach)))
            for f = 1, FIFTHS do reached[f] = (reached[f] or 0) + w.reach[f] end
        end
        for f = 1, FIFTHS do
            assert.is_true(reached[f] > 0, ("no multi-cut plan's cut reached the %s of the run"):format(head[f]))
        end
        assert.is_true(late_first > 0, "no multi-cut plan's first cut in the last third of the run")
        for _, mode in ipairs(MODES) do
            local w = rows[mode]
            assert.equal(0, w.bricked, mode)
            assert.equal(0, w.mixed, mode)
            assert.equal(0, w.wrong, mode)
            assert.equal(0, w.refetched, mode)
            assert.is_true(w.cuts >= w.runs, mode .. ": fewer cuts than runs")
        end
    end

    for _, layout in ipairs(LAYOUTS) do
        it(layout .. ": a libfota upgrade always ends on the new image", function()
            scenario("upgrade", UPGRADE, { "V1104", "1.0.2" }, layout)
        end)
        it(layout .. ": a package staged only, applied by the boot, always ends on the new image", function()
            scenario("stage", STAGE_ONLY, { "V1104", "1.0.2" }, layout)
        end)
        it(layout .. ": a new image that never confirms is always rolled back to the old one", function()
            scenario("rollback", ROLLBACK, { "V1103", "1.0.1" }, layout)
        end)
    end
end)
