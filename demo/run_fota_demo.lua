-- The end-to-end demo on loopback: builds a signed package for demo/fota
-- (core V1104, script 1.0.2) with fotapack, serves it over https and as the
-- IoT platform, and boots demo/fota in bin/luatos-sim: it upgrades through
-- libfota, reboots into the new core and script, and hears "already latest".
-- Run from the source tree after a build: lua5.3 demo/run_fota_demo.lua
package.path = "lib/?.lua;test/?.lua;" .. package.path
package.cpath = (os.getenv("FOTA_BUILD") or "build") .. "/?.so;" .. package.cpath
local T = require "testutil"
local simdevice = require "simdevice"

local work = ".luatos-sim/fota-demo"
assert(os.execute("rm -rf " .. work .. " && mkdir -p " .. work .. "/keys " .. work .. "/tls"))

print("== fotapack: signing key, package (core V1104 + script 1.0.2)")
local key, pub = T.keypair(work .. "/keys")
local script = T.read("demo/fota/main.lua"):gsub('VERSION = "1.0.1"', 'VERSION = "1.0.2"')
T.write(work .. "/core_V1104.bin", simdevice.core_image("V1104"))
local pkg = T.make_package({ project = "fotademo", version = "1.0.2", core_image = work .. "/core_V1104.bin",
    core = "V1104", key = key, script = script })
print(string.format("   package: %d bytes, signed", #pkg))

local certs = T.make_certs(work .. "/tls")
local tls = T.start_server({ dir = work .. "/tls", package = pkg, tls = true, host = "localhost", lifetime = 120 })
local platform = T.start_server({ package = pkg, lifetime = 120 })
T.write(platform.dir .. "/latest", "1104.1.2\n")   -- the platform's newest: core 1104, script 1.x.2

-- The device trusts the signing key, as if provisioned at the factory.
local dev = work .. "/device"
assert(os.execute("mkdir -p " .. dev .. "/fota"))
T.write(dev .. "/fota/trusted.pem", pub)
T.write(work .. "/ca.crt", certs.ca)

local cmd = string.format("FOTA_DEMO_TLS_URL='%s' FOTA_DEMO_CA='%s' LUAT_FOTA_IOT_URL='%s' "
    .. "bin/luatos-sim demo/fota --device %s --max-boots 3",
    tls.url("/pkg"), work .. "/ca.crt", platform.url("/api/site/firmware_upgrade"), dev)
print("== " .. cmd)
local ok = os.execute(cmd)
tls.stop()
platform.stop()
assert(ok, "demo failed")
assert(os.execute("cmp -s " .. dev .. "/slots/core_b.bin " .. work .. "/core_V1104.bin"),
    "core slot B does not hold the new core")
print("== demo ok: the device runs core V1104 and script 1.0.2")
