-- Written as LuatOS's own demos are: sys and sysplus used as the globals the
-- firmware provides (no require), libraries in a subfolder (Luatools puts
-- them side by side in /luadb/), the network awaited with IP_READY, the
-- module's identity from hmeta and mobile, a boot counter in fskv.
PROJECT = "compat"
VERSION = "1.0.1"
PRODUCT_KEY = "compatkey"

local helper = require "fota_helper"   -- lib/fota_helper.lua in the project

fskv.init()
local boots = (fskv.get("boots") or 0) + 1
fskv.set("boots", boots)
log.info("compat", "boot", boots, "model", hmeta.model(), "md5", crypto.md5("luat"))

sys.taskInit(function()
    if VERSION ~= "1.0.1" then
        log.info("compat", "UPGRADED", VERSION, rtos.version(), "boots", fskv.get("boots"))
        return
    end
    local ok, ip, adapter = sys.waitUntil("IP_READY", 15000)
    log.info("compat", "IP_READY", ok, ip, adapter == socket.LWIP_GP, "status", mobile.status())
    helper.upgrade(os.getenv("COMPAT_URL"))
end)

sys.run()
