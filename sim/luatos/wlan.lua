--- wlan: LuatOS's Wi-Fi station API over the simulated adapters (simnet),
-- as LuatOS's exnetif and the netdrv_wifi demos drive it:
--   wlan.init()
--   wlan.connect("ssid", "password", 1)   -- true: the attempt started
--   sys.waitUntil("IP_READY")             -- (ip, socket.LWIP_STA)
-- The networks in range are bin/luatos-sim's --wifi SSID[:PASSWORD]. A join
-- is told as WLAN_STA_INC("CONNECTED", ssid, bssid), then the DHCP lease as
-- IP_READY(ip, socket.LWIP_STA); a wrong password or an SSID not in range
-- as WLAN_STA_INC("DISCONNECTED", reason). wlan.disconnect() gives
-- WLAN_STA_INC("DISCONNECTED") and IP_LOSE(socket.LWIP_STA). There are no
-- Wi-Fi clients to serve: AP mode (createAP) and smartconfig say so.
local simnet = require "simnet"
local simbus = require "simbus"
local argcheck = require "argcheck"
local opt_int, opt_str = argcheck.opt_int, argcheck.opt_str

local wlan = {
    NONE = 0, STATION = 1, AP = 2, STATIONAP = 3,
    STOP = 0, ESPTOUCH = 1, AIRKISS = 2, ESPTOUCH_AIRKISS = 3, ESPTOUCH_V2 = 4,
    PS_NONE = 0, PS_MIN_MODEM = 1, PS_MAX_MODEM = 2,
}

local mode, power_save = wlan.STATION, 0
local hostname

local function log() return rawget(_G, "log") end
local function warn(...)
    local l = log()
    if l then l.warn("wlan", ...) end
end
local function hex(s) return (s:gsub(".", function(c) return string.format("%02X", c:byte()) end)) end

--- wlan.init() -> true: the station adapter (socket.LWIP_STA) exists.
function wlan.init() return simnet.wlan_init() end

--- wlan.setMode(mode) / wlan.mode(mode) -> true; an unknown mode is STATION.
function wlan.setMode(a, b)
    local m = math.tointeger(a) or math.tointeger(b) or wlan.STATION
    if m <= wlan.NONE or m > wlan.STATIONAP then m = wlan.STATION end
    mode = m
    return true
end
wlan.mode = wlan.setMode

--- The mode last set (simulator only).
function wlan.getMode() return mode end

--- wlan.ready() -> associated and holding an address.
function wlan.ready() return simnet.up(simnet.LWIP_STA) and true or false end

--- wlan.connect(ssid, password, auto_reconnect, bssid) -> true when the
-- attempt started (not that it joined; false before wlan.init()); nothing
-- for an empty ssid without a 6-byte bssid, as LuatOS's C does.
function wlan.connect(ssid, password, auto_reconnect, bssid)
    ssid = opt_str(ssid, 1, "")
    password = opt_str(password, 2, "")
    opt_int(auto_reconnect, 3, 1)
    bssid = opt_str(bssid, 4, "")
    if #bssid ~= 6 then
        bssid = nil
        if ssid == "" then
            warn("ssid is empty")
            return
        end
    end
    if not simnet.wlan_inited() then
        warn("wlan.init() was not called: the station does not exist")
        return false
    end
    return simnet.wlan_connect(ssid ~= "" and ssid or nil, password, bssid)
end

--- wlan.disconnect(): leaves the network.
function wlan.disconnect() simnet.wlan_disconnect(false) end

local scanning = false
--- wlan.scan(): asynchronous; WLAN_SCAN_DONE once wlan.scanResult() has
-- the networks in range.
function wlan.scan()
    if scanning then return end
    scanning = true
    simbus.post(simnet.SCAN_MS, function()
        scanning = false
        local pub = rawget(_G, "sys_pub") or (rawget(_G, "sys") and _G.sys.publish)
        if pub then pub("WLAN_SCAN_DONE") end
    end)
end

--- wlan.scanResult([limit]) -> { {ssid=, bssid= 6 bytes, channel=, rssi=}, ... },
-- at most limit (8..32, default 20) entries.
function wlan.scanResult(limit)
    limit = opt_int(limit, 1, 20)
    limit = math.max(8, math.min(32, limit))
    local out = {}
    for i, n in ipairs(simnet.networks()) do
        if i > limit then break end
        out[i] = { ssid = n.ssid, bssid = n.bssid, channel = n.channel, rssi = n.rssi }
    end
    return out
end

--- wlan.getMac([tp[, hexstr]]) -> "AABBCCDDEEFF" (6 bytes with hexstr false):
-- the station's (tp 0) or the AP's, stable per device.
function wlan.getMac(tp, hexstr)
    tp = opt_int(tp, 1, 0)
    local id = tp == 0 and simnet.LWIP_STA or simnet.LWIP_AP
    local raw = require("netdrv").mac(id, nil, false)
    if hexstr == false then return raw end
    return hex(raw)
end

--- wlan.setMac(tp, mac) -> false: the simulated radio keeps its address.
function wlan.setMac(tp, mac)
    opt_int(tp, 1, 0)
    if type(mac) ~= "string" then argcheck.error(2, "string expected, got " .. type(mac)) end
    warn("setMac: the simulated radio keeps its address")
    return false
end

--- wlan.getIP() -> the station's address ("0.0.0.0" while it has none).
function wlan.getIP()
    return (simnet.address(simnet.LWIP_STA)) or "0.0.0.0"
end

--- wlan.getInfo() -> {bssid = hex, gw =, rssi =} of the joined network.
function wlan.getInfo()
    local net = simnet.wlan_joined()
    local _, _, gw = simnet.address(simnet.LWIP_STA)
    return { bssid = net and hex(net.bssid) or "000000000000", gw = gw or "", rssi = net and net.rssi or 0 }
end

--- wlan.powerSave([mode]) -> the power-save mode (recorded; a desktop never sleeps).
function wlan.powerSave(m)
    if math.type(m) == "integer" then power_save = m end
    return power_save
end

--- wlan.hostname([id,] [name]) -> the hostname (default "LUATOS_" .. the station's MAC).
function wlan.hostname(a, b)
    local name = type(a) == "string" and a or (type(b) == "string" and b) or nil
    if name and #name > 31 then
        warn("hostname is too long")
        return
    end
    if name and name ~= "" then hostname = name end
    return hostname or ("LUATOS_" .. wlan.getMac(0))
end

--- wlan.staIp(dhcp, ip, mask, gw) -> true: DHCP (default) or a static address.
function wlan.staIp(dhcp, ip, mask, gw)
    if not simnet.wlan_inited() then return false end
    local on = dhcp == nil or dhcp == true or (math.type(dhcp) == "integer" and dhcp ~= 0)
    if on then
        simnet.set_dhcp(simnet.LWIP_STA, true)
    else
        simnet.set_static(simnet.LWIP_STA, opt_str(ip, 2, "192.168.1.201"), opt_str(mask, 3, "255.255.255.0"),
            opt_str(gw, 4, "192.168.1.1"))
    end
    return true
end

--- wlan.createAP(...) -> false: no Wi-Fi clients are simulated.
function wlan.createAP(ssid)
    if type(ssid) ~= "string" then argcheck.error(1, "string expected, got " .. type(ssid)) end
    warn("createAP: an access point is not simulated (no Wi-Fi clients to serve)")
    return false
end

function wlan.stopAP() return true end

--- wlan.smartconfig([mode]) -> false (stop: true): no phone sends credentials.
function wlan.smartconfig(m)
    if m == wlan.STOP then return true end
    warn("smartconfig is not simulated (no phone to send the credentials): use --wifi and wlan.connect")
    return false
end

return wlan
