-- A LuatOS FOTA project: asks an upgrade server for a newer package with
-- libfota, as on a module, and reboots into it. bin/luatos-sim runs it
-- unchanged; demo/run_fota_demo.lua starts loopback servers and passes their
-- addresses in the environment (a module would have them written here).
PROJECT = "fotademo"
VERSION = "1.0.1"
PRODUCT_KEY = "DEMO_PRODUCT_KEY"

local sys = require "sys"
local libfota = require "libfota"

local TLS_URL = os.getenv("FOTA_DEMO_TLS_URL") or "https://localhost:8443/upgrade"
local CA_FILE = os.getenv("FOTA_DEMO_CA") or "/luadb/ca.crt"

local function fota_cb(result, info)
    info = info or {}
    log.info("fota_cb", "result", result, "status", info.status, "code", info.code, info.msg or info.reason or "")
    sys.publish("FOTA_RESULT", result, info)
end

sys.taskInit(function()
    log.info("main", PROJECT, "script", VERSION, "core", rtos.version(), "imei", mobile.imei())
    local state = fota.state()
    if state.trying then
        -- Our own health check passed: keep the new image.
        fota.confirm()
        log.info("main", "upgraded from script", state.previous.version, "core", state.previous.core,
            "- confirmed")
    end

    if VERSION == "1.0.1" then
        log.info("main", "== asking the self-built server over https (server certificate checked)")
        local f = assert(io.open(CA_FILE))
        local ca = f:read("a")
        f:close()
        libfota.request(fota_cb, TLS_URL, nil, nil, nil, nil, 60000, ca)
    else
        log.info("main", "== asking the IoT platform (no url: PRODUCT_KEY, PROJECT, VERSION, IMEI)")
        libfota.request(fota_cb)
    end
    local _, result, info = sys.waitUntil("FOTA_RESULT", 300000)
    if result == 0 then
        log.info("main", "package downloaded, verified and committed: rebooting into it")
        rtos.reboot()
    elseif result == 4 and info.code == 27 then
        log.info("main", "platform says: already latest (27)")
    else
        log.info("main", "no upgrade this time:", result)
    end
end)

sys.run()
