-- The end-to-end demo, on loopback (the README's main command runs it):
--  1. fota-server gets the demo project and two releases: core V1103 + script
--     1.0.1 (what devices run) and core V1104 + script 1.0.2, packages signed;
--  2. a simulated Air780E boots demo/fota (V1103, 1.0.1), asks the server as
--     it would ask the IoT platform, downloads the package (a core delta built
--     for its base core), verifies and commits it, reboots into V1104 / 1.0.2,
--     confirms it, and asks again: 27, already latest;
--  3. a second device does the same from a self-built server over https.
-- Run from the source tree after a build: lua5.3 demo/run_fota_demo.lua
package.path = "lib/?.lua;sim/?.lua;sim/luatos/?.lua;test/?.lua;" .. package.path
package.cpath = (os.getenv("FOTA_BUILD") or "build") .. "/?.so;" .. package.cpath
local T = require "testutil"
local simdevice = require "simdevice"

local work = os.getenv("FOTA_DEMO_DIR") or ".luatos-sim/fota-demo"
assert(os.execute("rm -rf " .. work .. " && mkdir -p " .. work .. "/keys " .. work .. "/tls " .. work .. "/v2"))

local function step(s) print("\n== " .. s) end
local function admin(db, args)
    local out, status = T.fota_server(db, args)
    assert(status == 0, out)
end

step("1. upgrade server: project fotademo, releases V1103/1.0.1 and V1104/1.0.2")
local key, pub = T.keypair(work .. "/keys")
local db = work .. "/fota.db"
T.write(work .. "/core_V1103.bin", simdevice.core_image("V1103"))   -- the devices' factory core
T.write(work .. "/core_V1104.bin", simdevice.core_image("V1104"))
T.write(work .. "/v2/main.lua", (T.read("demo/fota/main.lua"):gsub('VERSION = "1.0.1"', 'VERSION = "1.0.2"')))
admin(db, "project add --name fotademo --key DEMO_PRODUCT_KEY --owner demo")
admin(db, "firmware add --project fotademo --bsp EC618 --core-version V1103 --core " .. work ..
    "/core_V1103.bin --script demo/fota --version 1.0.1")
admin(db, "firmware add --project fotademo --bsp EC618 --core-version V1104 --core " .. work ..
    "/core_V1104.bin --script " .. work .. "/v2 --version 1.0.2")
admin(db, "config set --project fotademo --firmware fotademo_LuatOS-SoC_EC618")
local server = T.start_fota_server({ db = db, key = key, lifetime = 300 })
print("   fota-server on " .. server.base)

-- Devices trust the signing key, as if provisioned at the factory.
local function new_device(name)
    local dev = work .. "/" .. name
    assert(os.execute("mkdir -p " .. dev .. "/fota"))
    T.write(dev .. "/fota/trusted.pem", pub)
    return dev
end

local function boot(dev, env)
    local cmd = string.format("%s LUAT_FOTA_IOT_URL='%s' bin/luatos-sim demo/fota --device %s --max-boots 3",
        env or "", server.base, dev)
    print("   " .. cmd)
    return os.execute(cmd)
end

step("2. device 1 asks the server like the IoT platform")
local dev1 = new_device("device1")
local ok1 = boot(dev1)

step("3. device 2 gets its upgrade from a self-built server over https")
local certs = T.make_certs(work .. "/tls")
local pkg = T.make_package({ project = "fotademo", version = "1.0.2", core = "V1104", key = key,
    core_image = work .. "/core_V1104.bin", script = T.read(work .. "/v2/main.lua") })
local tls = T.start_server({ dir = work .. "/tls", package = pkg, tls = true, host = "localhost", lifetime = 120 })
local dev2 = new_device("device2")
-- The server's CA on the module's file system, where the script reads it.
assert(os.execute("mkdir -p " .. dev2 .. "/fs"))
T.write(dev2 .. "/fs/ca.crt", certs.ca)
local ok2 = boot(dev2, string.format("FOTA_DEMO_TLS_URL='%s' FOTA_DEMO_CA=/ca.crt", tls.url("/pkg")))
tls.stop()

step("upgrade log of the server for device 1")
local imei = T.read(dev1 .. "/profile.lua"):match('imei = "(%d+)"')
print((T.fota_server(db, "log --imei " .. imei)))
server.stop()

assert(ok1 and ok2, "a device failed")
for _, dev in ipairs({ dev1, dev2 }) do
    local st = T.read(dev .. "/slots/core_" .. (T.read(dev .. "/slots/core_b.bin") and "b" or "a") .. ".bin")
    assert(st == T.read(work .. "/core_V1104.bin"), dev .. ": core slot does not hold V1104")
end
print("== demo ok: both devices run core V1104 and script 1.0.2")
