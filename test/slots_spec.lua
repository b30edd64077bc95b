-- Commit, boot record, confirm and rollback through the Lua API.
local T = require "testutil"

describe("slots and the boot record", function()
    local dir, pkg

    setup(function() pkg = T.make_package({ version = "1.2.4", core = "V1104" }) end)

    before_each(function()
        dir = T.tmpdir("slots")
        T.device(dir)
    end)

    local function stage(p)
        assert.is_true(fota.init())
        assert.is_true((fota.run(p or pkg)))
        assert.is_true(fota.finish(true))
    end

    local function slot_file(name) return dir .. "/slots/" .. name end

    it("starts from the factory image, confirmed", function()
        local st = fota.boot()
        assert.equal("V1103", st.running.core)
        assert.equal("1.2.3", st.running.version)
        assert.is_false(st.trying)
        assert.equal("none", st.last_result)
    end)

    it("commits into the inactive slots and tries the new pair until confirmed", function()
        stage()
        assert.is_true(fota.commit({ tries = 2 }))
        assert.is_nil(T.read(dir .. "/fota/stage.bin"))
        local st = fota.state()
        assert.is_true(st.trying)
        assert.same({ "V1104", "1.2.4", "b", "b" },
            { st.running.core, st.running.version, st.running.core_slot, st.running.script_slot })
        assert.same({ "V1103", "1.2.3" }, { st.previous.core, st.previous.version })
        st = fota.boot()
        assert.equal(1, st.tries_left)
        assert.is_true(fota.confirm())
        st = fota.boot()
        assert.is_false(st.trying)
        assert.equal("updated", st.last_result)
        assert.equal("1.2.4", st.running.version)
    end)

    it("rolls back a pair that boots its tries without being confirmed", function()
        stage()
        assert.is_true(fota.commit({ tries = 2 }))
        assert.equal("1.2.4", fota.boot().running.version)
        assert.equal("1.2.4", fota.boot().running.version)
        local st = fota.boot()
        assert.equal("1.2.3", st.running.version)
        assert.equal("V1103", st.running.core)
        assert.equal("rolled_back", st.last_result)
        assert.equal("not_confirmed", st.rollback_reason)
    end)

    it("rolls back when a new slot no longer matches its hash", function()
        stage()
        assert.is_true(fota.commit())
        local core = T.read(slot_file("core_b.bin"))
        T.write(slot_file("core_b.bin"), core:sub(1, 1000) .. "X" .. core:sub(1002))
        local st = fota.boot()
        assert.equal("V1103", st.running.core)
        assert.equal("bad_image", st.rollback_reason)
    end)

    it("reports a device with no valid image at all as bricked", function()
        T.write(slot_file("core_a.bin"), "garbage")
        local st, err = fota.boot()
        assert.is_nil(st)
        assert.equal("bricked", err)
    end)

    it("keeps the older record copy when the newer one is torn", function()
        stage()
        assert.is_true(fota.commit())
        local seq = fota.state().seq
        -- The commit wrote the copy with the higher sequence number: tear it.
        for _, name in ipairs({ "boot0.rec", "boot1.rec" }) do
            local rec = T.read(slot_file(name))
            if string.unpack("<I4", rec, 9) == seq then
                T.write(slot_file(name), rec:sub(1, 100))
            end
        end
        local st = fota.state()
        assert.equal(seq - 1, st.seq)
        assert.equal("1.2.3", st.running.version)
        assert.is_false(st.trying)
    end)

    it("rolls back on request, and only when there is something to go back to", function()
        local ok, err = fota.rollback()
        assert.is_nil(ok)
        assert.equal("bad_state", err)
        stage()
        assert.is_true(fota.commit())
        assert.is_true(fota.confirm())
        assert.is_true(fota.rollback())
        local st = fota.state()
        assert.equal("1.2.3", st.running.version)
        assert.equal("requested", st.rollback_reason)
    end)

    it("refuses a second commit while the new pair is on trial", function()
        stage()
        assert.is_true(fota.commit())
        stage()
        local ok, err = fota.commit()
        assert.is_nil(ok)
        assert.equal("bad_state", err)
    end)

    it("refuses an older package (anti-rollback) and drops it", function()
        stage(T.make_package({ version = "1.2.2", core = "V1104" }))
        local ok, err = fota.commit()
        assert.is_nil(ok)
        assert.equal("rollback", err)
        assert.is_nil(T.read(dir .. "/fota/stage.bin"))
        assert.is_false(fota.state().trying)
    end)

    it("refuses scripts over the device's script area (default an Air780E's 128 KiB) and drops them", function()
        -- 200 KB of scripts in a small package: it fits 480 KiB, not the module
        local big = T.make_package({ version = "1.2.4", core = "V1104",
            files = { ["lib/big.lua"] = string.rep("-- filler line\n", 200000 // 15) } })
        assert.is_true(#big < 491520)
        stage(big)
        local ok, err, msg = fota.verify()
        assert.is_nil(ok)
        assert.equal("scripts_too_large", err)
        assert.matches("scripts_too_large", msg)
        assert.is_true((fota.verify({ script_area = 448 * 1024 })))   -- a module built with more
        assert.has_error(function() fota.verify({ script_area = -1 }) end)
        ok, err = fota.commit()
        assert.is_nil(ok)
        assert.equal("scripts_too_large", err)
        assert.is_nil(T.read(dir .. "/fota/stage.bin"))
        -- the device's own setting, as the simulator gives it: every check uses it
        fota.device(dir, { script_area = 448 * 1024 })
        stage(big)
        assert.is_true((fota.verify()))
        assert.is_true(fota.commit())
        assert.equal("1.2.4", fota.state().running.version)
    end)

    -- fotapack never builds these, so the package is made here by hand
    -- (docs/package-format.md): unsigned, scripts only, for core V1103, the
    -- archive in stored (uncompressed) deflate blocks.
    local function crafted(names)
        local crypto = require "fota.crypto"
        local function sha(s)
            return (crypto.sha256(s):gsub("%x%x", function(h) return string.char(tonumber(h, 16)) end))
        end
        local function str(s) return string.char(#s) .. s end
        table.sort(names)
        local arc = { "LFSA", string.pack("<I2I2I4", 1, 0, #names) }
        for _, n in ipairs(names) do arc[#arc + 1] = string.pack("<s2s4", n, "x") end
        arc = table.concat(arc)
        local a, b = 1, 0
        for i = 1, #arc do a = (a + arc:byte(i)) % 65521; b = (b + a) % 65521 end
        local z = "\x78\x01\x01" .. string.pack("<I2I2", #arc, 0xffff - #arc) .. arc ..
            string.pack(">I4", b * 65536 + a)
        local meta = str("demo") .. str("demo_LuatOS-SoC_EC618") .. str("EC618") .. string.pack("<I4", 0) ..
            string.rep("\0", 32) .. string.pack("<I4", 1103) .. str("1.2.4") .. "\0\1" .. string.pack("<I4", 1103)
        local data_at = 16 + #meta + 48
        local body = "LFPK" .. string.pack("<I2I2I4", 2, 0, data_at + #z + 32) .. string.pack("<I2I1I1", #meta, 1, 0) ..
            meta .. string.pack("<I1I1I2I4I4I4", 3, 0, 0, data_at, #z, #arc) .. sha(arc) .. z
        return body .. sha(body)
    end

    it("refuses scripts a module could not boot, each with its reason", function()
        stage(crafted({ "main.lua", "lib/x.lua" }))   -- the same way, a bootable set passes
        assert.is_true((fota.verify()))
        for _, case in ipairs({
            { { "main.lua", "lib", "lib/x.lua" }, "name_clash" },
            { { "main.lua", "sub/main.lua" }, "main_not_top" },
            { { ("d/"):rep(9) .. "x.lua" }, "path_too_deep" },
        }) do
            stage(crafted(case[1]))
            local ok, err = fota.verify()
            assert.is_nil(ok)
            assert.equal(case[2], err)
            ok, err = fota.commit()
            assert.is_nil(ok)
            assert.equal(case[2], err)
            assert.is_nil(T.read(dir .. "/fota/stage.bin"))   -- refused for good: dropped
            assert.is_false(fota.state().trying)
        end
    end)

    it("applies at boot a package that was staged and not committed", function()
        stage()
        local st = fota.boot()
        assert.equal("ok", st.applied_staged)
        assert.is_true(st.trying)
        assert.equal("1.2.4", st.running.version)
        assert.is_nil(T.read(dir .. "/fota/stage.bin.ready"))
    end)

    describe("with a core delta", function()
        local simdevice = require "simdevice"
        local function delta_package(base_version)
            local d = T.tmpdir("delta")
            T.write(d .. "/old.bin", simdevice.core_image(base_version))
            T.write(d .. "/new.bin", simdevice.core_image("V1104"))
            return T.make_package({ version = "1.2.4", core = "V1104", core_image = d .. "/new.bin",
                from_core = d .. "/old.bin", from_core_version = base_version }), d .. "/new.bin"
        end

        it("rebuilds the new core from the running one", function()
            local p, new = delta_package("V1103")
            assert.is_true(#p < 60000, "delta package of " .. #p .. " bytes")
            stage(p)
            assert.is_true((fota.verify()))   -- the running core is the base
            assert.is_true(fota.commit())
            assert.equal(T.read(new), T.read(slot_file("core_b.bin")))
            assert.equal("V1104", fota.boot().running.core)
        end)

        it("refuses a delta from another base before writing a slot", function()
            stage((delta_package("V1102")))
            assert.equal("wrong_base", select(2, fota.verify()))
            local ok, err = fota.commit()
            assert.is_nil(ok)
            assert.equal("wrong_base", err)
            assert.is_nil(T.read(slot_file("core_b.bin")))
            assert.is_false(fota.state().trying)
        end)
    end)

    describe("releases bind core and script (running V1103 + 1.2.3)", function()
        local function refused(p, reason)
            stage(p)
            assert.equal(reason, select(2, fota.verify()))
            local ok, err = fota.commit()
            assert.is_nil(ok)
            assert.equal(reason, err)
            assert.is_nil(T.read(dir .. "/fota/stage.bin"))   -- dropped: it can never pass
            assert.is_nil(T.read(slot_file("script_b.lfsa")))
            assert.is_nil(T.read(slot_file("core_b.bin")))
            assert.is_false(fota.state().trying)
            assert.same({ "V1103", "1.2.3" }, { fota.state().running.core, fota.state().running.version })
        end

        it("refuses scripts built for another core", function()
            refused(T.make_package({ version = "1.2.4", core = false, release_core = "V1104" }), "wrong_pair")
        end)

        it("refuses a core built for other scripts", function()
            refused(T.make_package({ version = false, release_version = "1.2.4", core = "V1104" }), "wrong_pair")
        end)

        it("commits a core that names the running scripts", function()
            stage(T.make_package({ version = false, release_version = "1.2.4", runs_on = "1.2.3,1.2.4",
                core = "V1104" }))
            assert.is_true(fota.commit())
            local st = fota.state()
            assert.same({ "V1104", "1.2.3" }, { st.running.core, st.running.version })
        end)

        it("refuses the running release again unless it is a reinstall", function()
            refused(T.make_package({ version = "1.2.3", core = "V1103" }), "same_release")
            stage(T.make_package({ version = "1.2.3", core = "V1103", reinstall = true }))
            assert.is_true(fota.commit())
            assert.is_true(fota.state().trying)
        end)
    end)

    it("commits a script-only package and keeps the core", function()
        stage(T.make_package({ version = "1.2.4", core = false }))
        assert.is_true(fota.commit())
        local st = fota.state()
        assert.same({ "V1103", "a", "1.2.4", "b" },
            { st.running.core, st.running.core_slot, st.running.version, st.running.script_slot })
    end)
end)

describe("the simulator's script area", function()
    it("is the bsp's by default (an Air780E's 128 KiB, an EC718's 256 KiB, ...) and the profile's when set",
        function()
        local work = T.tmpdir("simarea")
        local proj = work .. "/proj"
        os.execute("mkdir -p " .. proj)
        T.write(proj .. "/main.lua", table.concat({
            'PROJECT = "demo"', 'VERSION = "1.2.3"',
            'local f = io.open("/pkg.fota", "rb")',
            'if f then',
            '  local p = f:read("a") f:close() os.remove("/pkg.fota")',
            '  assert(fota.init()) assert(fota.run(p)) assert(fota.finish(true)) rtos.reboot()',
            'end', 'sys.run()' }, "\n"))
        -- 200 KB of scripts: over 128 KiB, within 448 KiB
        local function big(bsp)
            return T.make_package({ project = "demo", version = "1.2.4", core = "V1104", bsp = bsp,
                script = 'PROJECT = "demo"\nVERSION = "1.2.4"\nsys.run()\n',
                files = { ["lib/big.lua"] = string.rep("-- filler line\n", 200000 // 15) } })
        end
        local function boot_twice(dev, profile, bsp)
            os.execute("mkdir -p " .. dev .. "/fs")
            if profile then T.write(dev .. "/profile.lua", profile) end
            T.write(dev .. "/fs/pkg.fota", big(bsp))
            local out, status = T.run(string.format("bin/luatos-sim %s --device %s --max-boots 2%s", proj, dev,
                bsp and " --bsp " .. bsp or ""))
            assert.equal(0, status, out)
            return out
        end
        assert.matches("staged package applied at boot: scripts_too_large", boot_twice(work .. "/dev1"))
        local out = boot_twice(work .. "/dev2", "return { script_area = 458752 }\n")
        assert.matches("staged package applied at boot: ok", out)
        assert.matches("boot 2:.*script 1%.2%.4", out)
        for i, bsp in ipairs({ "EC718PM", "RDA8910" }) do   -- 256 KiB, an Air724's 1 MiB
            out = boot_twice(work .. "/dev" .. (i + 2), nil, bsp)
            assert.matches("staged package applied at boot: ok", out)
            assert.matches("boot 2:.*script 1%.2%.4", out)
        end
    end)
end)

describe("fota as on a module", function()
    it("applies a package that fota.isDone() reported complete at the next boot, without fota.finish(true)", function()
        -- LuatOS's own fota example and UART demos: run ... isDone ... rtos.reboot()
        local work = T.tmpdir("nofinish")
        local proj, dev = work .. "/proj", work .. "/dev"
        os.execute("mkdir -p " .. proj .. " " .. dev .. "/fs")
        T.write(proj .. "/main.lua", table.concat({
            'PROJECT = "demo"', 'VERSION = "1.2.3"',
            'local f = io.open("/pkg.fota", "rb")',
            'if f then',
            '  local p = f:read("a") f:close() os.remove("/pkg.fota")',
            '  assert(fota.init()) assert(fota.run(p))',
            '  local ok, done = fota.isDone() log.info("main", "isDone", ok, done) rtos.reboot()',
            'end', 'sys.run()' }, "\n"))
        T.write(dev .. "/fs/pkg.fota", T.make_package({ project = "demo", version = "1.2.4", core = false,
            script = 'PROJECT = "demo"\nVERSION = "1.2.4"\nsys.run()\n' }))
        local out, status = T.run(string.format("bin/luatos-sim %s --device %s --max-boots 2", proj, dev))
        assert.equal(0, status, out)
        assert.matches("isDone true true", out)
        assert.matches("staged package applied at boot: ok", out)
        assert.matches("boot 2:.*script 1%.2%.4", out)
    end)
end)
