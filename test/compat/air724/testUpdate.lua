--- The upgrade, as the public demo's testUpdate.lua: require "update" and
-- update.request at load. AIR724_MODE picks the call:
--   iot  update.request(): the IoT platform's address (LUAT_FOTA_IOT_URL
--        replaces it), no callback: the library restarts the module
--   url  update.request(cbFnc, AIR724_URL): cbFnc logs the result and
--        restarts the module on true
module(..., package.seeall)

require "update"

log.info("air724", "boot", VERSION, rtos.get_version(), net.getState(), netLed.getState())

if os.getenv("AIR724_MODE") == "url" then
    update.request(function(ok)
        log.info("air724", "update result", ok)
        if ok then sys.restart("air724 upgrade") end
    end, os.getenv("AIR724_URL"))
else
    update.request()
end
