-- The project's own FOTA helper, kept in a subfolder of the project.
local libfota2 = require "libfota2"

local helper = {}

function helper.upgrade(url)
    libfota2.request(function(ret)
        log.info("fota", "result", ret)
        if ret == 0 then rtos.reboot() end
    end, { url = "###" .. url, timeout = 30000 })
end

return helper
