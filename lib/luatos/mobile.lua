--- mobile: the cellular identity of the simulated module.
local simdevice = require "simdevice"

local mobile = {}

function mobile.imei() return simdevice.profile().imei end

return mobile
