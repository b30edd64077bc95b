-- A LuatOS FOTA project: asks an upgrade server for a newer package with
-- libfota, as on a module. bin/luatos-sim runs it unchanged; demo/run_fota_demo.lua
-- starts loopback servers and passes their addresses in the environment.
PROJECT = "fotademo"
VERSION = "1.0.1"
PRODUCT_KEY = "DEMO_PRODUCT_KEY"

local sys = require "sys"
local libfota = require "libfota"
local libfota2 = require "libfota2"

-- On a module these are constants; the desktop demo picks free ports.
local URL = os.getenv("FOTA_DEMO_URL") or "http://127.0.0.1:8080/upgrade"
local TLS_URL = os.getenv("FOTA_DEMO_TLS_URL")
local CA_FILE = os.getenv("FOTA_DEMO_CA")

local function fota_cb(result, info)
    info = info or {}
    log.info("fota_cb", "result", result, "status", info.status, "code", info.code, info.msg or info.reason or "")
    sys.publish("FOTA_RESULT", result, info)
end

local function upgrade(what, start)
    log.info("main", "== " .. what)
    start()
    local _, result, info = sys.waitUntil("FOTA_RESULT", 300000)
    return result, info
end

sys.taskInit(function()
    log.info("main", PROJECT, VERSION, "core", rtos.version(), "imei", mobile.imei())

    local r = upgrade("self-built server over http", function() libfota.request(fota_cb, URL) end)
    log.info("main", r == 0 and "package downloaded, verified and staged" or "upgrade failed")

    if TLS_URL then
        local f = io.open(CA_FILE)
        local ca = f:read("a")
        f:close()
        r = upgrade("the same over https, server certificate checked", function()
            libfota.request(fota_cb, TLS_URL, nil, nil, nil, nil, 60000, ca)
        end)
        log.info("main", r == 0 and "https upgrade staged" or "https upgrade failed")
    end

    r = upgrade("IoT platform query (no url: PRODUCT_KEY, PROJECT, VERSION, IMEI)", function()
        libfota.request(fota_cb)
    end)
    log.info("main", r == 0 and "platform sent the package" or "platform: no upgrade")

    local info
    r, info = upgrade("libfota2, asking as if 1.0.2 already ran", function()
        libfota2.request(fota_cb, { version = rtos.version():sub(2) .. ".1.2" })
    end)
    if r == 4 and info.code == 27 then log.info("main", "platform says: already latest (27)") end
    log.info("main", "done; the staged package is applied at the next reboot")
end)

sys.run()
