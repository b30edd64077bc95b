-- fota-server's vendor packages (server/vendor.c, docs/server.md "Vendor packages"):
-- files named as Luatools and the AT delta tool name them, one per base core (the
-- guide's self-built-server recipe: V1101->V1104, V1102->V1104, V1103->V1104),
-- served byte for byte to the devices on those bases, with the platform's answers
-- around them.
local T = require "testutil"
local crypto = require "fota.crypto"

local new_imei = T.imei_maker("8612")
local FW = "fotademo_LuatOS-SoC_EC618"
local AT_FW = "Air780E_AT_EC618"

local function code_of(body) return tonumber(body:match('"code":(%-?%d+)')) end
local function sha(s) return crypto.sha256(s):lower() end

for _, store in ipairs(T.stores()) do
    describe("vendor packages [" .. store .. "]", function()
        local db, dir, srv, files

        local function pkg_add(args)
            return T.fota_server(db, "package add --project fotademo " .. args)
        end
        local function list()
            return T.admin(db, "package list --project fotademo")
        end

        setup(function()
            db, dir = T.new_store(store, "vendordb")
            T.admin(db, "project add --name fotademo --key VKEY --owner alice")
            files = {}
            for i, base in ipairs({ "1101", "1102", "1103" }) do
                -- the vendor's files are opaque to the server: random bytes do
                local name = string.format("%s/v%s/fotademo_1104.1.2_LuatOS-SoC_EC618.bin", dir, base)
                os.execute("mkdir -p " .. dir .. "/v" .. base)
                files[base] = T.noise(150000 + i, 40 + i)
                T.write(name, files[base])
                local out = T.admin(db, "package add --project fotademo --from V" .. base .. " " .. name)
                assert.matches("fotademo_LuatOS%-SoC_EC618 %-> V1104 1%.0%.2 from V" .. base, out)
            end
            files.at = T.noise(90000, 50)
            T.write(dir .. "/dfota_final_Air780E_V1015_V1016.bin", files.at)
            T.admin(db, "package add --project fotademo --firmware " .. AT_FW .. " " .. dir
                .. "/dfota_final_Air780E_V1015_V1016.bin")
            T.admin(db, "config set --project fotademo --firmware " .. FW)
            T.admin(db, "config set --project fotademo --firmware " .. AT_FW)
            srv = T.start_fota_server({ db = db, flush_ms = 30 })
        end)
        teardown(function() if srv then srv.stop() end end)

        local function ask(fw, version, imei, extra)
            return T.curl(srv.url(string.format("project_key=VKEY&firmware_name=%s&version=%s&imei=%s", fw, version,
                imei or new_imei())), extra)
        end

        it("gives each base core its own file, byte for byte; 27 on the target; 44 for a base no file names", function()
            for _, v in ipairs({ "1101.1.0", "1102.1.7", "1103.2.1" }) do
                local s, body, h = ask(FW, v)
                assert.equal(200, s)
                assert.equal(sha(files[v:sub(1, 4)]), sha(body))
                assert.equal('"' .. sha(body):sub(1, 32) .. '"', h.etag)
            end
            local s, body = ask(FW, "1104.1.2")
            assert.equal(404, s)
            assert.equal(27, code_of(body))
            s, body = ask(FW, "1100.1.0")
            assert.equal(409, s)
            assert.equal(44, code_of(body))
            assert.matches("V1100", body)
        end)

        it("resumes a cut download (206 from the offset); If-Range with another ETag gets the whole file", function()
            local imei = new_imei()
            local s, body = ask(FW, "1102.1.0", imei, "-H 'Range: bytes=100000-'")
            assert.equal(206, s)
            assert.equal(sha(files["1102"]:sub(100001)), sha(body))
            s, body = ask(FW, "1102.1.0", imei, "-H 'Range: bytes=100000-' -H 'If-Range: \"0000\"'")
            assert.equal(200, s)
            assert.equal(#files["1102"], #body)
            s = ask(FW, "1102.1.0", imei, "-H 'Range: bytes=999999-'")
            assert.equal(416, s)
        end)

        it("counts a download from byte 0 toward the loop ban, never a resume of it", function()
            local imei = new_imei()
            for i = 1, 6 do   -- six downloads a day, each cut and resumed twice
                assert.equal(200, (ask(FW, "1101.1.0", imei)))
                for _, from in ipairs({ 50000, 100000 + i }) do
                    assert.equal(206, (ask(FW, "1101.1.0", imei, "-H 'Range: bytes=" .. from .. "-'")))
                end
            end
            local s, body = ask(FW, "1101.1.0", imei)
            assert.same({ 403, 40 }, { s, code_of(body) })
        end)

        it("serves the AT tool's dfota_final file to AT modules on its base, by the name's V1015 and V1016", function()
            local s, body = ask(AT_FW, "1015.0.0")
            assert.equal(200, s)
            assert.equal(sha(files.at), sha(body))
            s, body = ask(AT_FW, "1016.0.0")
            assert.same({ 404, 27 }, { s, code_of(body) })
            s, body = ask(AT_FW, "1014.0.0")
            assert.same({ 409, 44 }, { s, code_of(body) })
        end)

        it("refuses what cannot be right, storing nothing", function()
            local before = list()
            local big = dir .. "/big_1105.1.0_LuatOS-SoC_EC618.bin"
            T.write(big, T.noise(491521, 3))
            local out, status = pkg_add("--from V1104 " .. big)
            assert.equal(2, status)
            assert.matches("larger than 491520", out)
            T.write(dir .. "/other.bin", "x")
            out, status = pkg_add("--from V1104 " .. dir .. "/other.bin")
            assert.equal(2, status)
            assert.matches("firmware name", out)
            out, status = pkg_add("--firmware " .. FW .. " --to 1105 --from V1104 " .. dir .. "/other.bin")
            assert.equal(0, status, out)   -- V1105: an AT-style target, script 0.0.0
            local id = out:match("package (%d+):")
            T.admin(db, "package remove --id " .. id)
            for _, bad in ipairs({ "--to 1105.x.0 --from V1104", "--to 1105.1.0 --from V1104,V1104",
                "--to 1105.1.0 --from 1104.1.0", "--to 1105.1.0 --from V1105", "--to 1105.1.0 --from ''" }) do
                out, status = pkg_add("--firmware " .. FW .. " " .. bad .. " " .. dir .. "/other.bin")
                assert.equal(2, status, bad .. ": " .. out)
            end
            -- a base already served for that target
            out, status = pkg_add("--from V1101 " .. dir .. "/v1101/fotademo_1104.1.2_LuatOS-SoC_EC618.bin")
            assert.equal(2, status)
            assert.matches("already serves base V1101", out)
            assert.equal(before, list())
            -- a larger limit for this file
            out, status = pkg_add("--from V1104 --max-size 600000 " .. big)
            assert.equal(0, status, out)
            T.admin(db, "package remove --id " .. out:match("package (%d+):"))
            assert.equal(before, list())
        end)

        it("mixes with the server's own releases: the newest target wins, a removed file leaves its base 44", function()
            os.execute("mkdir -p " .. dir .. "/s")
            T.write(dir .. "/s/main.lua", 'PROJECT = "fotademo"\nVERSION = "1.0.5"\n')
            T.write(dir .. "/core1104.bin", T.noise(60000, 9))
            T.admin(db, "firmware add --project fotademo --bsp EC618 --core-version V1104 --core " .. dir
                .. "/core1104.bin --script " .. dir .. "/s --version 1.0.5")
            T.admin(db, "config set --project fotademo --firmware " .. FW)
            -- our own 1104 + 1.0.5 (1104.1.5) is newer than the vendor's 1104.1.2: built for the base
            local s, body = ask(FW, "1104.1.2")
            for _ = 1, 100 do
                if s ~= 503 then break end
                require("socket").sleep(0.05)
                s, body = ask(FW, "1104.1.2")
            end
            assert.equal(200, s)
            assert.equal("LFPK", body:sub(1, 4))
            -- back to the vendor's target; its package for V1103 removed: 44 there only
            T.admin(db, "config set --project fotademo --firmware " .. FW .. " --version 1.0.2 --core-version V1104")
            local id = list():match("(%d+)\tfotademo\t[^\n]*from V1103")
            T.admin(db, "package remove --id " .. id)
            s, body = ask(FW, "1103.1.0")
            assert.same({ 409, 44 }, { s, code_of(body) })
            s, body = ask(FW, "1101.1.0")
            assert.same({ 200, sha(files["1101"]) }, { s, sha(body) })
        end)

        it("export writes the configured targets' vendor files under their content-addressed names", function()
            local out_dir = T.tmpdir("vexport")
            T.admin(db, "export " .. out_dir)
            assert.equal(sha(files["1101"]), sha(T.read(out_dir .. "/" .. sha(files["1101"]) .. ".fota") or ""))
            assert.equal(sha(files.at), sha(T.read(out_dir .. "/" .. sha(files.at) .. ".fota") or ""))
        end)
    end)
end
