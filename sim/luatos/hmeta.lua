--- hmeta: the simulated module's hardware metadata (model, chip,
-- hardware version) for its bsp.
local simdevice = require "simdevice"

local hmeta = {}
local CHIPS = { EC618 = "EC618", EC7XX = "EC718", EC718 = "EC718" }

function hmeta.model() return simdevice.profile().model end
function hmeta.chip() local bsp = simdevice.profile().bsp return CHIPS[bsp] or bsp end
function hmeta.hwver() return "A11" end

return hmeta
