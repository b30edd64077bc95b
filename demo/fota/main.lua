-- A LuatOS FOTA project: asks an upgrade server for a newer package with
-- libfota, as on a module, and reboots into it. bin/luatos-sim runs it
-- unchanged; demo/run_fota_demo.lua starts the servers on loopback and passes
-- their addresses in the environment (a module would have them written here).
PROJECT = "fotademo"
VERSION = "1.0.1"
PRODUCT_KEY = "DEMO_PRODUCT_KEY"

local sys = require "sys"
local libfota = require "libfota"

-- A self-built server over https (its CA in CA_FILE); without it, the IoT
-- platform API (LUAT_FOTA_IOT_URL on the desktop, the public platform on a module).
local TLS_URL = os.getenv("FOTA_DEMO_TLS_URL")
local CA_FILE = os.getenv("FOTA_DEMO_CA")

local function fota_cb(result, info)
    sys.publish("FOTA_RESULT", result, info or {})
end

local function ask()
    if VERSION == "1.0.1" and TLS_URL then
        log.info("main", "asking the self-built server over https (server certificate checked)")
        local f = assert(io.open(CA_FILE))
        local ca = f:read("a")
        f:close()
        libfota.request(fota_cb, TLS_URL, nil, nil, nil, nil, 60000, ca)
    else
        log.info("main", "asking the upgrade server (PRODUCT_KEY, PROJECT, VERSION, IMEI)")
        libfota.request(fota_cb)
    end
    local _, result, info = sys.waitUntil("FOTA_RESULT", 300000)
    return result, info
end

sys.taskInit(function()
    log.info("main", PROJECT, "script", VERSION, "core", rtos.version(), "imei", mobile.imei())
    local state = fota.state()
    if state.trying then
        -- Our own health check passed: keep the new image.
        fota.confirm()
        log.info("main", "upgraded from script", state.previous.version, "core", state.previous.core,
            "to script", VERSION, "core", rtos.version(), "- confirmed")
    end
    for _ = 1, 30 do
        local result, info = ask()
        if result == 0 then
            log.info("main", "package downloaded, verified and committed: rebooting into it")
            rtos.reboot()
        elseif result == 4 and info.code == 43 then
            -- The server is building our delta: ask again soon (1 s here, 30 s on a module).
            log.info("main", "server says: please wait (43)")
            sys.wait(1000)
        else
            if info.code == 27 then log.info("main", "server says: already latest (27)")
            else log.info("main", "no upgrade this time:", result, info.code, info.msg) end
            break
        end
    end
end)

sys.run()
