--- net for LuatOS-Air projects without LuatOS-Air's own lib/: the network
-- state and cell facts the Air724 library's net.lua gives, from the
-- simulated device (registered while its network is up, on LTE, CSQ 25).
-- The queries the library polls with AT (startQueryAll, csqQueryPoll,
-- cengQueryPoll) have nothing to poll here: they only keep their periods.
-- As the library, it publishes NET_STATE_REGISTERED and GPRS_ATTACH when
-- the network comes up (IP_READY_IND); FLYMODE from switchFly.
local simdevice = require "simdevice"

local net = {
    NetMode_noNet = 0, NetMode_GSM = 1, NetMode_EDGE = 2, NetMode_TD = 3, NetMode_LTE = 4, NetMode_WCDMA = 5,
}

local RSSI = 25          -- the CSQ the AT responder answers (sim/luatos-air/atc.lua)
local flight = false
local periods = {}   -- the query periods set (ms): csq, ceng

local function sys() return rawget(_G, "sys") or require "sys" end
local function registered() return simdevice.network_up() and not flight end

--- "REGISTERED" or "UNREGISTER", as the library names the states.
function net.getState() return registered() and "REGISTERED" or "UNREGISTER" end
function net.getNetMode() return registered() and net.NetMode_LTE or net.NetMode_noNet end
function net.getMcc() return "460" end
function net.getMnc() return "00" end
--- Lac and Ci as the library keeps them: hex strings.
function net.getLac() return registered() and "5A1F" or "" end
function net.getCi() return registered() and "0B2C3D01" or "" end
function net.getRssi() return registered() and RSSI or 0 end
--- LTE RSRP in dBm: the value a CSQ of 25 stands for.
function net.getRsrp() return registered() and -90 or 0 end
function net.getTa() return 0 end
function net.getCell() return registered() and (net.getMcc() .. net.getMnc() .. net.getLac() .. net.getCi()) or "" end
--- "mcc.mnc.lac.ci.rssi;": the serving cell only (no neighbours here).
function net.getCellInfo()
    if not registered() then return "" end
    return "460.0." .. tonumber(net.getLac(), 16) .. "." .. tonumber(net.getCi(), 16) .. "." .. RSSI .. ";"
end
function net.getCellInfoExt(rssi)
    if not registered() then return "" end
    return "460.0." .. tonumber(net.getLac(), 16) .. "." .. tonumber(net.getCi(), 16) .. "." .. (rssi or RSSI) .. ".0;"
end
--- cbFnc(cells): the serving cell, as the library's table of cells.
function net.getMultiCell(cbFnc)
    local cells = registered() and { { mcc = "460", mnc = "00", lac = net.getLac(), ci = net.getCi(), rssi = RSSI } }
        or {}
    if cbFnc then sys().timerStart(cbFnc, 1, cells) end
end

local function period_arg(p, name)
    if p ~= nil and math.tointeger(p) == nil then
        error("bad argument to '" .. name .. "' (integer expected, got " .. type(p) .. ")", 3)
    end
    return p
end
function net.csqQueryPoll(period) periods.csq = period_arg(period, "csqQueryPoll") return true end
function net.cengQueryPoll(period) periods.ceng = period_arg(period, "cengQueryPoll") return true end
--- startQueryAll(csqPeriod, cengPeriod): 60 s each by default, as the library.
function net.startQueryAll(csq, ceng)
    net.csqQueryPoll(csq or 60000)
    net.cengQueryPoll(ceng or 60000)
    return true
end
function net.stopQueryAll() periods.csq, periods.ceng = nil, nil end
--- The periods startQueryAll / csqQueryPoll / cengQueryPoll set (ms; nil: off).
function net.queryPeriods() return periods.csq, periods.ceng end
function net.setEngMode() end
--- switchFly(true): flight mode (the network is lost until switchFly(false)).
function net.switchFly(mode)
    flight = mode and true or false
    sys().publish("FLYMODE", flight)
    if flight then sys().publish("NET_STATE_UNREGISTER") end
end

sys().subscribe("IP_READY_IND", function()
    sys().publish("NET_STATE_REGISTERED")
    sys().publish("GPRS_ATTACH", true)
end)

_G.net = net
return net
