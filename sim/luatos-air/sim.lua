--- sim for LuatOS-Air projects without LuatOS-Air's own lib/: the SIM
-- card's identity, as the library reads it once the card is ready (it
-- publishes SIM_IND "RDY" then IMSI_READY; here at the first tick after it
-- is required). The ICCID and IMSI are the simulated device's, the same the
-- AT responder gives for AT+ICCID / AT+CIMI (sim/luatos-air/atc.lua).
local atc = require "atc"

local sim = {}

function sim.getIccid() return atc.iccid() end
function sim.getImsi() return atc.imsi() end
function sim.getMcc() return atc.imsi():sub(1, 3) end
function sim.getMnc() return atc.imsi():sub(4, 5) end
--- true: a card is in and ready.
function sim.getStatus() return true end
function sim.setQueryNumber() end
--- The card's own number: none stored (as most data cards).
function sim.getNumber() return "" end
function sim.getId() return 0 end
function sim.setId(_, cbFnc) if cbFnc then cbFnc(true) end end
function sim.set2gSim() end

local sys = rawget(_G, "sys") or require "sys"
sys.timerStart(function()
    sys.publish("SIM_IND", "RDY")
    sys.publish("IMSI_READY")
end, 1)

_G.sim = sim
return sim
