-- LuatOS style: FOTA with the http module's fota mode, no libfota.
PROJECT = "compat"
VERSION = "1.0.1"

local sys = require "sys"
require "sysplus"

sys.taskInit(function()
    if VERSION ~= "1.0.1" then
        log.info("compat", "UPGRADED", VERSION, rtos.version())
        return
    end
    local url = os.getenv("COMPAT_URL")
    local code, headers, body = http.request("GET", url, nil, nil, { fota = true, timeout = 30000 }).wait()
    log.info("compat", "http", code, type(headers), body)
    local ok, done = fota.isDone()
    log.info("compat", "isDone", ok, done)
    if code == 200 and done then rtos.reboot() end
end)

sys.run()
