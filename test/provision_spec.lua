-- Fail closed: a device provisioned with a signing key keeps it in its boot
-- record; a missing, empty or swapped key file then refuses every package.
-- A device never provisioned keeps LuatOS's behaviour (unsigned allowed).
local T = require "testutil"

-- The keys and packages both blocks below use, and one device at a time.
local dir, key, pub, other_pub, signed, unsigned, other_signed

setup(function()
    local other_key
    key, pub = T.keypair(T.tmpdir("keys"))
    other_key, other_pub = T.keypair(T.tmpdir("keys2"))
    signed = T.make_package({ key = key })
    other_signed = T.make_package({ key = other_key })
    unsigned = T.make_package()
end)

local function new_device(name)
    dir = T.tmpdir(name)
    T.device(dir)
    os.execute("mkdir -p " .. dir .. "/fota")
end

local function stage(p)
    assert.is_true(fota.init())
    assert.is_true((fota.run(p)))
    assert.is_true(fota.finish(true))
end

local function key_file(text)
    if text then T.write(dir .. "/fota/trusted.pem", text) else os.remove(dir .. "/fota/trusted.pem") end
end

describe("a device provisioned with a signing key", function()
    before_each(function() new_device("provision") end)

    it("is never provisioned by default and accepts an unsigned package (LuatOS's behaviour)", function()
        assert.is_false(fota.state().key_provisioned)
        stage(unsigned)
        assert.is_true((fota.verify()))
        assert.is_true(fota.commit())
    end)

    it("keeps the key for life: the same key again is fine, another is refused", function()
        assert.is_true(fota.provision_key(pub))
        assert.is_true(fota.state().key_provisioned)
        assert.is_true(fota.provision_key(pub))
        local ok, err, msg = fota.provision_key(other_pub)
        assert.is_nil(ok)
        assert.equal("bad_state", err)
        assert.matches("another signing key", msg)
        assert.same({ nil, "bad_arg", "not an ECDSA P-256 public key" }, { fota.provision_key("junk") })
        -- a factory flash again does not forget it
        assert(fota.flash({ core = "V1103", core_image = dir .. "/core.bin", script = dir .. "/script.lfsa",
            version = "1.2.3" }))
        assert.is_true(fota.state().key_provisioned)
        -- nor does an upgrade, its trial boot and its confirmation
        key_file(pub)
        stage(signed)
        assert.is_true(fota.commit())
        assert.is_true(fota.boot().key_provisioned)
        assert.is_true(fota.confirm())
        assert.is_true(fota.state().key_provisioned)
    end)

    local cases = {
        { "a missing key file", nil, "trusted_key_missing" },
        { "an empty key file", "", "trusted_key_missing" },
        { "a different key file", "other", "trusted_key_changed" },
        { "a torn key file", "torn", "trusted_key_changed" },
    }
    for _, case in ipairs(cases) do
        it("refuses every package with " .. case[1] .. " (" .. case[3] .. ")", function()
            assert.is_true(fota.provision_key(pub))
            local text = case[2]
            if text == "other" then text = other_pub elseif text == "torn" then text = pub:sub(1, #pub // 2) end
            key_file(text)
            for _, p in ipairs({ signed, unsigned }) do
                stage(p)
                local ok, reason, msg = fota.verify()
                assert.is_nil(ok)
                assert.equal(case[3], reason)
                assert.matches(case[3], msg)
                ok, reason = fota.commit()
                assert.is_nil(ok)
                assert.equal(case[3], reason)
                assert.equal("1.2.3", fota.state().running.version)
            end
            -- an explicit pubkey option cannot bypass it either
            stage(signed)
            assert.equal("trusted_key_changed", select(2, fota.verify({ pubkey = other_pub })))
        end)
    end

    it("accepts only packages signed by its key when the key file is right", function()
        assert.is_true(fota.provision_key(pub))
        key_file(pub:gsub("\n", "\r\n"))   -- another layout of the same key
        stage(unsigned)
        assert.equal("no_signature", select(2, fota.verify()))
        stage(signed)
        assert.is_true((fota.verify()))
        assert.is_true(fota.commit())
    end)

    it("refuses a staged package at boot without the key", function()
        assert.is_true(fota.provision_key(pub))
        key_file(nil)
        stage(signed)
        local st = fota.boot()
        assert.equal("trusted_key_missing", st.applied_staged)
        assert.equal("1.2.3", st.running.version)
        assert.is_false(st.trying)
    end)
end)

-- Trust on first sight: a key that arrives after the factory flash protects
-- the device from the first boot (or fota.init) that finds it whole.
describe("a device flashed without a signing key", function()
    before_each(function() new_device("firstsight") end)

    local function refused(p, reason)
        stage(p)
        local ok, why = fota.verify()
        assert.is_nil(ok)
        assert.equal(reason, why)
        ok, why = fota.commit()
        assert.is_nil(ok)
        assert.equal(reason, why)
        assert.equal("1.2.3", fota.state().running.version)
    end

    it("learns a key that arrives later at the next boot; the key lost, an unsigned package is refused", function()
        local st = fota.boot()
        assert.is_false(st.key_provisioned)
        assert.is_nil(st.provisioned_now)
        key_file(pub)
        st = fota.boot()
        assert.is_true(st.key_provisioned)
        assert.is_true(st.provisioned_now)
        assert.is_nil(fota.boot().provisioned_now)   -- once
        key_file(nil)
        refused(unsigned, "trusted_key_missing")
        refused(signed, "trusted_key_missing")
    end)

    it("keeps the key it learned when the file is replaced by another key", function()
        key_file(pub)
        assert.is_true(fota.boot().key_provisioned)
        key_file(other_pub)
        assert.is_nil(fota.boot().provisioned_now)
        refused(other_signed, "trusted_key_changed")
        refused(unsigned, "trusted_key_changed")
        refused(signed, "trusted_key_changed")
    end)

    it("learns it at fota.init too, before a package is staged", function()
        key_file(pub)
        assert.is_true(fota.init())
        assert.is_true(fota.state().key_provisioned)
        key_file("")
        refused(unsigned, "trusted_key_missing")
    end)

    it("takes a torn or empty key file for no key, and the whole file when it comes", function()
        key_file(pub:sub(1, #pub // 2))
        assert.is_false(fota.boot().key_provisioned)
        assert.is_true(fota.init())
        assert.is_false(fota.state().key_provisioned)
        key_file("")
        assert.is_false(fota.boot().key_provisioned)
        key_file(pub)
        assert.is_true(fota.boot().provisioned_now)
        key_file(pub:sub(1, #pub // 2))
        refused(unsigned, "trusted_key_changed")
        key_file(pub)
        stage(signed)
        assert.is_true(fota.commit())
    end)
end)

describe("the simulator provisions a device flashed with fota/trusted.pem", function()
    it("then a lost key file refuses the staged package at boot", function()
        local work = T.tmpdir("simprov")
        local proj = work .. "/proj"
        os.execute("mkdir -p " .. proj .. " " .. work .. "/dev/fota")
        T.write(proj .. "/main.lua", table.concat({
            'PROJECT = "demo"', 'VERSION = "1.2.3"',
            'local st = fota.state()',
            'log.info("main", "provisioned", st.key_provisioned, "version", st.running.version)',
            'if os.getenv("STAGE") then',
            '  assert(fota.init()) assert(fota.run(io.open("/pkg.fota", "rb"):read("a")))',
            '  assert(fota.finish(true)) rtos.reboot()',
            'end', 'sys.run()' }, "\n"))
        T.write(work .. "/dev/fota/trusted.pem", pub)
        local out, status = T.run(string.format("bin/luatos-sim %s --device %s --max-boots 1", proj, work .. "/dev"))
        assert.equal(0, status, out)
        assert.matches("provisioned with the signing key", out)
        assert.matches("provisioned true version 1.2.3", out)
        os.execute("mkdir -p " .. work .. "/dev/fs")
        os.remove(work .. "/dev/fota/trusted.pem")   -- a lost key file
        T.write(work .. "/dev/fs/pkg.fota", T.make_package({ key = key, project = "demo" }))
        out, status = T.run(string.format("STAGE=1 bin/luatos-sim %s --device %s --max-boots 2",
            proj, work .. "/dev"))
        assert.equal(0, status, out)
        assert.matches("staged package applied at boot: trusted_key_missing", out)
        assert.matches("boot 2:.*provisioned true version 1.2.3", out)
    end)

    it("and one flashed without it, at the first boot that finds it", function()
        local work = T.tmpdir("simlate")
        local proj, dev = work .. "/proj", work .. "/dev"
        os.execute("mkdir -p " .. proj .. " " .. dev .. "/fota " .. dev .. "/fs")
        T.write(proj .. "/main.lua", table.concat({
            'PROJECT = "demo"', 'VERSION = "1.2.3"',
            'log.info("main", "provisioned", fota.state().key_provisioned)',
            'if os.getenv("STAGE") then',
            '  assert(fota.init()) assert(fota.run(io.open("/pkg.fota", "rb"):read("a")))',
            '  assert(fota.finish(true)) rtos.reboot()',
            'end', 'sys.run()' }, "\n"))
        local function sim(env, boots)
            local out, status = T.run(string.format("%sbin/luatos-sim %s --device %s --max-boots %d",
                env, proj, dev, boots))
            assert.equal(0, status, out)
            return out
        end
        assert.matches("provisioned false", sim("", 1))
        T.write(dev .. "/fota/trusted.pem", pub)   -- the key arrives later
        local out = sim("", 1)
        assert.matches("provisioned with the signing key fota/trusted.pem, found at boot", out)
        assert.matches("provisioned true", out)
        os.remove(dev .. "/fota/trusted.pem")      -- then goes missing
        T.write(dev .. "/fs/pkg.fota", T.make_package({ project = "demo" }))
        out = sim("STAGE=1 ", 2)
        assert.matches("staged package applied at boot: trusted_key_missing", out)
    end)
end)
