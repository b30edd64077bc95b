local T = require "testutil"

describe("fota (LuatOS API)", function()
    local fota, dir, path
    before_each(function()
        fota = T.fresh("fota")
        dir = T.tmpdir("fota")
        path = dir .. "/stage.bin"
        fota.device(dir)
    end)

    it("loads with LuatOS's functions", function()
        for _, name in ipairs({ "init", "run", "isDone", "finish", "file", "wait" }) do
            assert.is_function(fota[name])
        end
        assert.is_true(fota.wait())
    end)

    it("stages a package fed in chunks of any size", function()
        local pkg = T.make_package({ core_size = 5000 })
        assert.is_true(fota.init(path, 8192))
        local pos = 1
        local sizes = { 1, 3, 7, 11, 100, 4096 }
        local i = 0
        while pos <= #pkg do
            i = i % #sizes + 1
            local ok, done, cache = fota.run(pkg:sub(pos, pos + sizes[i] - 1))
            pos = pos + sizes[i]
            assert.is_true(ok)
            assert.equal(0, cache)
            assert.equal(pos > #pkg, done)
        end
        assert.same({ true, true }, { fota.isDone() })
        assert.is_true(fota.finish(true))
        assert.equal(pkg, T.read(path))
        assert.is_truthy(T.read(path .. ".ready"))
    end)

    it("takes a zbuff, and an offset and length into a string or a zbuff", function()
        local zbuff = T.fresh("fota.zbuff")
        local pkg = T.pkg_bytes(300)
        assert.is_true(fota.init(path))
        local b = zbuff.create(100)
        b:write(pkg:sub(1, 40))
        assert.same({ true, false, 0 }, { fota.run(b) })             -- the 40 written bytes
        assert.same({ true, false, 0 }, { fota.run("xx" .. pkg:sub(41, 100), 2, 60) })
        b:clear()
        b:seek(0)   -- clear keeps the cursor, as in LuatOS
        b:write(pkg:sub(101, 200))
        assert.same({ true, false, 0 }, { fota.run(b, 0, 100) })
        assert.same({ true, true, 0 }, { fota.run(pkg, 200) })
        assert.equal(pkg, T.read(path))
        assert.has_error(function() fota.run("abc", 4) end)
        assert.has_error(function() fota.run("abc", 1, 3) end)
    end)

    it("uses the device's staging area when storage is nil or a number", function()
        assert.is_true(fota.init())
        assert.is_true((fota.run(T.pkg_bytes(256))))
        assert.is_true(fota.finish(true))
        assert.equal(T.pkg_bytes(256), T.read(dir .. "/fota/stage.bin"))
        assert.is_true(fota.init(0, 4096))
    end)

    it("reports a complete package that does not verify as failed in isDone", function()
        assert.is_true(fota.init(path))
        assert.same({ true, true, 0 }, { fota.run(T.pkg_bytes(300)) })   -- all bytes, but no package
        local ok, done, msg = fota.isDone()
        assert.same({ false, true }, { ok, done })
        assert.truthy(msg:find("package refused", 1, true))
        assert.is_true(fota.finish(false))
        assert.is_true(fota.init(path))                                  -- a new package is judged anew
        assert.is_true((fota.run(T.make_package({ core_size = 1000 }))))
        assert.is_nil(T.read(path .. ".ready"))
        assert.same({ true, true }, { fota.isDone() })
        -- checked: ready for the next boot without fota.finish(true), as on a module
        assert.truthy(T.read(path .. ".ready"))
        assert.is_true(fota.finish(true))                                -- still fine to call
    end)

    it("reports in-progress from isDone until the package is complete", function()
        assert.is_true(fota.init(path))
        assert.same({ true, false }, { fota.isDone() })
        fota.run(T.pkg_bytes(300):sub(1, 50))
        assert.same({ true, false }, { fota.isDone() })
        assert.is_false(fota.finish(true))   -- incomplete: refused, not half-committed
        assert.is_nil(T.read(path .. ".ready"))
    end)

    it("refuses a write past the declared len", function()
        assert.is_true(fota.init(path, 150))
        local ok, done, cache, msg = fota.run(string.rep("x", 151))
        assert.is_false(ok)
        assert.is_true(done)
        assert.is_true(cache < 0)
        assert.is_string(msg)
        assert.is_false((fota.isDone()))
    end)

    it("refuses a package bigger than the declared len, and data that is no package", function()
        assert.is_true(fota.init(path, 199))
        assert.is_false((fota.run(T.pkg_bytes(200):sub(1, 20))))
        assert.is_true(fota.init(path, 199))
        assert.is_false((fota.run("this is not a package at all")))
    end)

    it("refuses writes after the package is complete and after finish", function()
        assert.is_true(fota.init(path))
        assert.same({ true, true, 0 }, { fota.run(T.pkg_bytes(200)) })
        assert.is_false((fota.run("x")))
        assert.is_true(fota.init(path))
        fota.run(T.pkg_bytes(200))
        assert.is_true(fota.finish(true))
        local ok, done = fota.run("x")
        assert.is_false(ok)
        assert.is_true(done)
    end)

    it("finish(false) discards the staged data", function()
        assert.is_true(fota.init(path))
        fota.run(T.pkg_bytes(200))
        assert.is_true(fota.finish(false))
        assert.is_nil(T.read(path))
        assert.is_nil(T.read(path .. ".ready"))
    end)

    it("fota.file stages a whole file and ends it as LuatOS's does (checked, ready for the next boot); "
        .. "a missing file is (false, false, 0)", function()
        local src = dir .. "/pkg.bin"
        T.write(src, T.make_package({ core_size = 1000 }))
        assert.is_true(fota.init(path))
        assert.same({ true, true, 0 }, { fota.file(src) })
        assert.equal(T.read(src), T.read(path))
        assert.truthy(T.read(path .. ".ready"))
        T.write(src, T.pkg_bytes(10000))                                  -- not a package
        assert.is_true(fota.init(path))
        local ok, done, cache, why = fota.file(src)
        assert.same({ false, true, 0 }, { ok, done, cache })
        assert.truthy(why:find("package refused", 1, true))
        assert.is_nil(T.read(path .. ".ready"))
        ok, done, cache, why = fota.file(dir .. "/missing.bin")
        assert.same({ false, false, 0 }, { ok, done, cache })
        assert.truthy(why:find("missing.bin", 1, true))
    end)

    it("init fails cleanly when the storage can't be opened", function()
        local ok, msg = fota.init("/nonexistent-dir/x/stage.bin")
        assert.is_false(ok)
        assert.is_string(msg)
        assert.is_false((fota.run("LFPK")))
    end)

    it("raises argument errors with the argument number", function()
        assert.has_error(function() fota.init({}) end,
            "bad argument #1 to 'init' (storage must be nil, a number or a path string)")
        assert.has_error(function() fota.init(nil, "big") end)
        assert.has_error(function() fota.run() end, "bad argument #1 to 'run' (string expected, got no value)")
        assert.has_error(function() fota.file(nil) end)
    end)
end)

describe("fota.verify", function()
    local T2 = require "testutil"
    it("names what is wrong with the staged package", function()
        local fota = T2.fresh("fota")
        local dir = T2.tmpdir("verify-direct")
        fota.device(dir)
        local ok, reason, msg = fota.verify()
        assert.is_nil(ok)
        assert.equal("io", reason)
        assert.is_string(msg)
        local pkg = T2.make_package()
        assert.is_true(fota.init())
        fota.run(pkg:sub(1, 1000))
        local bad, why = fota.verify()
        assert.is_nil(bad)
        assert.equal("truncated", why)
        fota.run(pkg:sub(1001))
        local info
        ok, info = fota.verify({ project = "demo", bsp = "EC618", core = "V1103", version = "1.2.3" })
        assert.is_true(ok)
        assert.equal("demo_LuatOS-SoC_EC618", info.firmware)
        assert.is_false(info.signed)
        assert.equal(#pkg, info.size)
        assert.same({ "V1104", "1.2.4", false }, { info.release_core, info.release_version, info.reinstall })
        assert.equal("bad_meta", select(2, fota.verify({ bsp = "ESP32C3" })))
        assert.has_error(function() fota.verify({ core = "banana" }) end)
        assert.has_error(function() fota.verify({ pubkey = 42 }) end)
    end)
end)
