-- fskv: LuatOS's key-value store, kept in DEVICE/fskv across boots.
local T = require "testutil"

-- Runs a Lua chunk in a new process on the device dir (a boot of its own).
local function boot(dev, code, env)
    local script = string.format("package.path = 'lib/?.lua;sim/?.lua;sim/luatos/?.lua;' .. package.path; "
        .. "package.cpath = '%s/?.so;' .. package.cpath; local fskv = require 'fskv'; assert(fskv.init()); %s",
        T.build, code)
    return T.run(string.format("%s LUATOS_SIM_DEVICE=%s lua5.3 -e %q", env or "", dev, script))
end

describe("fskv", function()
    local fskv, dev
    before_each(function()
        dev = T.tmpdir("fskv")
        require("fota").device(dev)
        fskv = T.fresh("fskv")
    end)

    it("before init every call returns nothing", function()
        assert.equal(0, select("#", fskv.set("a", 1)))
        assert.equal(0, select("#", fskv.get("a")))
        assert.equal(0, select("#", fskv.status()))
        assert.is_true(fskv.init())
    end)

    it("values keep their type", function()
        assert.is_true(fskv.init())
        assert.is_true(fskv.set("s", "goodgoodstudy"))
        assert.is_true(fskv.set("bin", "\0\1\255"))
        assert.is_true(fskv.set("t", true))
        assert.is_true(fskv.set("f", false))
        assert.is_true(fskv.set("i", 1234))
        assert.is_true(fskv.set("neg", math.mininteger))
        assert.is_true(fskv.set("tab", { name = "wendal", age = 123 }))
        assert.equal("goodgoodstudy", fskv.get("s"))
        assert.equal("\0\1\255", fskv.get("bin"))
        assert.is_true(fskv.get("t"))
        assert.is_false(fskv.get("f"))
        assert.equal(1234, fskv.get("i"))
        assert.equal("integer", math.type(fskv.get("i")))
        assert.equal(math.mininteger, fskv.get("neg"))
        assert.same({ name = "wendal", age = 123 }, fskv.get("tab"))
        assert.equal("wendal", fskv.get("tab", "name"))
        assert.is_nil(fskv.get("missing"))
        assert.equal(0, select("#", fskv.get("missing")))   -- nothing, as LuatOS's VM (golden fskv)
    end)

    it("floats come back as a module's 32-bit floats", function()
        assert.is_true(fskv.init())
        assert.is_true(fskv.set("x", 1.5))
        assert.equal(1.5, fskv.get("x"))
        assert.is_true(fskv.set("y", 1.1))
        assert.equal(string.unpack(">f", string.pack(">f", 1.1)), fskv.get("y"))
        assert.not_equal(1.1, fskv.get("y"))
    end)

    it("refuses what a module refuses: bad types, sizes, keys", function()
        assert.is_true(fskv.init())
        assert.is_false(fskv.set("n", nil))
        assert.is_false(fskv.set("fn", print))
        assert.is_false(fskv.set("co", coroutine.create(print)))
        assert.is_false(fskv.set("", "empty key"))
        assert.is_false(fskv.set(string.rep("k", 64), "key too long"))
        assert.is_true(fskv.set(string.rep("k", 63), "longest key"))
        assert.is_true(fskv.set("big", string.rep("x", 4095)))   -- + type byte = 4096
        assert.is_false(fskv.set("big2", string.rep("x", 4096)))
        assert.is_false(fskv.set("fntab", { f = print }))   -- no JSON for it
        assert.error_matches(function() fskv.set({}, 1) end, "bad argument #1 to 'set'")
        assert.error_matches(function() fskv.get() end, "bad argument #1 to 'get'")
        assert.error_matches(function() fskv.sett("a", nil, 1) end, "bad argument #2 to 'sett'")
        assert.error_matches(function() fskv.next("x") end, "bad argument #1 to 'next'")
    end)

    it("the whole store is bounded at 64 KiB", function()
        assert.is_true(fskv.init())
        local v = string.rep("v", 4000)
        local n = 0
        while fskv.set("k" .. n, v) do n = n + 1 end
        assert.equal(16, n)   -- 16 * 4001 bytes fit in 65536, the 17th does not
        local used, total, count = fskv.status()
        assert.equal(16 * 4001, used)
        assert.equal(65536, total)
        assert.equal(16, count)
        assert.is_true(fskv.set("k0", "small"))   -- replacing frees the old value's room
    end)

    it("sett builds a table, replacing a non-table value", function()
        assert.is_true(fskv.init())
        assert.is_true(fskv.set("mykv", "123"))
        assert.is_true(fskv.sett("mykv", "age", "123"))
        assert.same({ age = "123" }, fskv.get("mykv"))
        assert.is_true(fskv.sett("mykv", "on", true))
        assert.same({ age = "123", on = true }, fskv.get("mykv"))
        assert.equal(0, select("#", fskv.sett("mykv", "x")))   -- no value: nothing
    end)

    it("del, clear, iter/next and status", function()
        assert.is_true(fskv.init())
        for _, k in ipairs({ "b", "a", "c" }) do fskv.set(k, k) end
        local it, keys = fskv.iter(), {}
        for k in fskv.next, it do keys[#keys + 1] = k end
        assert.same({ "a", "b", "c" }, keys)
        assert.is_true(fskv.del("b"))
        assert.is_true(fskv.del("never"))
        assert.is_nil(fskv.get("b"))
        local _, _, count = fskv.status()
        assert.equal(2, count)
        assert.is_true(fskv.clear())
        assert.same({ 0, 65536, 0 }, { fskv.status() })
        assert.is_nil(fskv.next(fskv.iter()))
        assert.equal(fskv.kv_get, fskv.get)
    end)

    it("survives a reboot: a new process on the device sees the values", function()
        local out, st = boot(dev, "assert(fskv.set('boots', 1)); assert(fskv.set('cfg', {a = {1, 2}}))")
        assert.equal(0, st, out)
        out, st = boot(dev, "io.write(fskv.get('boots'), ' ', fskv.get('cfg').a[2])")
        assert.equal(0, st, out)
        assert.equal("1 2", out)
        assert.is_true(T.read(dev .. "/fskv/" .. "626f6f7473") ~= nil)   -- "boots" in hex
    end)

    it("a power cut during set leaves the old value or the new one, never a torn one", function()
        local out, st = boot(dev, "assert(fskv.set('k', 'old'))")
        assert.equal(0, st, out)
        -- every storage operation of the set (create the temp file, write, sync, rename, sync the
        -- directory) in turn: before the rename lands the old value is there, after it the new
        local new, cuts = string.rep("n", 3000), 0
        for cut = 1, 8 do
            local _, cut_status = boot(dev, "fskv.set('k', string.rep('n', 3000))", "LUAT_FOTA_POWERCUT=" .. cut)
            if cut_status ~= 76 then break end   -- the set has fewer operations than this
            cuts = cuts + 1
            out, st = boot(dev, "io.write(fskv.get('k'))")
            assert.equal(0, st, out)
            assert.is_true(out == "old" or out == new, "cut at operation " .. cut .. ": " .. out:sub(1, 40))
            if out == new then
                local _, reset = boot(dev, "assert(fskv.set('k', 'old'))")
                assert.equal(0, reset)
            end
        end
        assert.is_true(cuts >= 3, "cuts: " .. cuts)
        out, st = boot(dev, "fskv.set('k', 'new'); io.write(select(3, fskv.status()))")
        assert.equal(0, st, out)
        assert.equal("1", out)   -- the temp files left by the cuts are no keys
        assert.equal("new", fskv.init() and fskv.get("k"))
    end)
end)
