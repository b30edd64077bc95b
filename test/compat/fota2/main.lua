-- LuatOS demo/fota2 style: libfota2 with an options table, re-armed by a timer.
PROJECT = "compat"
VERSION = "1.0.1"
PRODUCT_KEY = "compatkey"

local sys = require "sys"
local libfota2 = require "libfota2"

local opts = { url = os.getenv("COMPAT_URL"), timeout = 30000 }

local function fota_cb(ret)
    log.info("fota", "result", ret)
    if ret == 0 then rtos.reboot() end
end

if VERSION == "1.0.1" then
    sys.timerLoopStart(libfota2.request, 3600000, fota_cb, opts)
    libfota2.request(fota_cb, opts)
    -- nothing else runs: stop the hourly timer once the first try is over
    sys.timerStart(function() sys.timerStopAll(libfota2.request) end, 20000)
else
    log.info("compat", "UPGRADED", VERSION, rtos.version())
end

sys.run()
