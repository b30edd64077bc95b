-- The bootloader applies a staged package once: when a cut after the commit
-- left the stage and its ready marker behind, the package is not applied
-- again (that would undo a rollback, or overwrite the old image).
local T = require "testutil"

describe("boot-time apply of a staged package", function()
    local dir, pkg

    setup(function() pkg = T.make_package({ version = "1.2.4", core = "V1104" }) end)
    before_each(function()
        dir = T.tmpdir("apply")
        T.device(dir)
    end)

    local function stage()
        assert.is_true(fota.init())
        assert.is_true((fota.run(pkg)))
        assert.is_true(fota.finish(true))
    end
    -- As if the power went after the commit's record write, before the stage was dropped.
    local function commit_cut_before_discard()
        stage()
        local data, ready = T.read(dir .. "/fota/stage.bin"), T.read(dir .. "/fota/stage.bin.ready")
        assert.is_true(fota.commit())
        T.write(dir .. "/fota/stage.bin", data)
        T.write(dir .. "/fota/stage.bin.ready", ready)
    end

    it("applies a package staged and never committed", function()
        stage()
        local st = fota.boot()
        assert.equal("ok", st.applied_staged)
        assert.same({ "V1104", "1.2.4", true }, { st.running.core, st.running.version, st.trying })
    end)

    it("does not apply again the package it rolled back", function()
        commit_cut_before_discard()
        assert.is_true(fota.rollback())
        local st = fota.boot()
        assert.equal("already_applied", st.applied_staged)
        assert.same({ "V1103", "1.2.3", false }, { st.running.core, st.running.version, st.trying })
        assert.is_nil(T.read(dir .. "/fota/stage.bin.ready"))
    end)

    it("does not apply again the package it runs, keeping the old image", function()
        commit_cut_before_discard()
        assert.is_true(fota.confirm())
        local st = fota.boot()
        assert.equal("already_applied", st.applied_staged)
        assert.same({ "V1104", "1.2.4", false }, { st.running.core, st.running.version, st.trying })
        assert.same({ "V1103", "1.2.3" }, { st.previous.core, st.previous.version })
    end)
end)
