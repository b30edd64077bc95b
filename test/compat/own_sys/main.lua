-- A project that ships its own sys.lua (next to this file): the module runs
-- it, not the firmware's, and libfota works on top of it.
PROJECT = "compat"
VERSION = "1.0.1"
PRODUCT_KEY = "compatkey"

log.info("compat", "own sys", sys.OWN == true)
local libfota = require "libfota"

sys.taskInit(function()
    if VERSION ~= "1.0.1" then
        log.info("compat", "UPGRADED", VERSION, rtos.version(), "own sys", sys.OWN == true)
        return
    end
    sys.waitUntil("IP_READY", 15000)
    libfota.request(function(result)
        log.info("fota", "result", result)
        if result == 0 then rtos.reboot() end
    end, os.getenv("COMPAT_URL"))
end)

sys.run()
