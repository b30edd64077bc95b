--- simnet: the simulated module's network adapters (LuatOS's lwIP netifs),
-- shared by socket, netdrv, http and the FOTA transfers.
--
-- The cellular adapter (LWIP_GP) is always there and follows the simulated
-- network (up after --net-delay, never with --offline). Others exist once a
-- script sets them up (netdrv.setup): an Ethernet chip (CH390) on an SPI bus
-- the script has opened gets its link LINK_MS later, then an address by
-- DHCP (DHCP_MS after the link, once netdrv.dhcp turned it on) or a static
-- one (netdrv.ipv4), and IP_READY(ip, adapter) is published, as on a module.
-- The Wi-Fi station (LWIP_STA) exists once wlan.init() ran; it joins one of
-- the networks in range (bin/luatos-sim --wifi SSID[:PASSWORD]) ASSOC_MS
-- after wlan.connect, then takes a DHCP lease as Ethernet does; a wrong
-- password or an SSID not in range fails as a module's association does.
-- Every adapter is the desktop's network underneath: the simulator says in
-- its log which adapter it pretends to be.
local simdevice = require "simdevice"
local simbus = require "simbus"

local M = {
    LWIP_GP = 1, LWIP_STA = 2, LWIP_AP = 3, LWIP_ETH = 4, LWIP_SPI = 5, LWIP_UART = 6,
    LWIP_USER0 = 7,   -- .. LWIP_USER7 = 14, LWIP_GP_GW 15, LWIP_USB 16 (luat_network_adapter.h)
    LINK_MS = 100,    -- from netdrv.setup to the Ethernet link
    DHCP_MS = 400,    -- from link (and DHCP on) to the lease
    ASSOC_MS = 300,   -- from wlan.connect to associated (WLAN_STA_INC "CONNECTED")
    ASSOC_FAIL_MS = 1000,   -- from wlan.connect to giving up (WLAN_STA_INC "DISCONNECTED", reason)
    SCAN_MS = 200,    -- from wlan.scan to WLAN_SCAN_DONE
    -- LuatOS's own PC simulator's reasons (bsp/pc's wlan driver); a module's
    -- come from its Wi-Fi chip's vendor and differ between chips.
    REASON_NO_AP_FOUND = 257, REASON_WRONG_PASSWORD = 258,
}
M.NAMES = { [1] = "LWIP_GP", [2] = "LWIP_STA", [3] = "LWIP_AP", [4] = "LWIP_ETH", [5] = "LWIP_SPI",
            [6] = "LWIP_UART" }
for i = 0, 7 do M.NAMES[M.LWIP_USER0 + i] = "LWIP_USER" .. i end
M.NAMES[15], M.NAMES[16] = "LWIP_GP_GW", "LWIP_USB"

local adapters = {}   -- id -> { impl, what, link, dhcp, ip, mask, gw, ready, gen }

local function log() return rawget(_G, "log") end
local function publish(...)
    local pub = rawget(_G, "sys_pub") or (rawget(_G, "sys") and _G.sys.publish)
    if pub then pub(...) end
end

function M.name(id) return M.NAMES[id] or tostring(id) end

--- The adapter id exists on the simulated module (cellular, or set up).
function M.exists(id)
    return id == M.LWIP_GP or adapters[id] ~= nil
end

--- The adapter has an address and its link is up: sockets can use it.
function M.up(id)
    if id == M.LWIP_GP then return simdevice.network_up() end
    local a = adapters[id]
    return a ~= nil and a.ready
end

function M.link(id)
    if id == M.LWIP_GP then return simdevice.network_up() end
    local a = adapters[id]
    if a then return a.link end
end

--- ip, netmask, gateway (nil while the adapter has none).
function M.address(id)
    if id == M.LWIP_GP then
        if simdevice.network_up() then return "127.0.0.1", "255.0.0.0", "127.0.0.1" end
        return nil
    end
    local a = adapters[id]
    if a and a.ready then return a.ip, a.mask, a.gw end
end

--- The adapter's record (netdrv's own use), or nil.
function M.get(id) return adapters[id] end

-- The Wi-Fi networks in range (--wifi): { ssid =, password =, bssid = 6 bytes, channel =, rssi = }.
local networks = {}

--- Puts a network in range: "SSID" (open) or "SSID:PASSWORD" (the first
-- colon ends the SSID). Its BSSID, channel and signal are derived from it.
function M.add_network(spec)
    local ssid, password = spec:match("^([^:]*):(.*)$")
    ssid = ssid or spec
    if ssid == "" or #ssid > 32 then return nil, "an SSID has 1 to 32 bytes, got " .. #ssid end
    if password and #password > 63 then return nil, "a password has at most 63 bytes" end
    local n = #networks + 1
    local h = 0
    for i = 1, #ssid do h = (h * 31 + ssid:byte(i)) & 0xffffff end
    networks[n] = { ssid = ssid, password = password or "",
                    bssid = string.char(0x02, 0x4c, n, (h >> 16) & 255, (h >> 8) & 255, h & 255),
                    channel = ({ 1, 6, 11 })[(n - 1) % 3 + 1], rssi = -40 - 5 * (n - 1) }
    return networks[n]
end

function M.networks() return networks end

local function went_up(id, a)
    a.ready = true
    local l = log()
    if l then
        l.info("sim", string.format("adapter %s (%s) ready, ip %s: pretended, the desktop's network underneath",
            M.name(id), a.what, a.ip))
    end
    publish("IP_READY", a.ip, id)
end

local function went_down(id, a)
    local was = a.ready
    a.ready = false
    if was then
        local l = log()
        if l then l.info("sim", string.format("adapter %s (%s) lost its address", M.name(id), a.what)) end
        publish("IP_LOSE", id)
    end
end

-- Settles the adapter: an address once the link is up and one is known.
local function settle(id, a)
    if not a.link then return went_down(id, a) end
    if a.ready then return end
    if a.static then
        a.ip, a.mask, a.gw = a.static[1], a.static[2], a.static[3]
        return went_up(id, a)
    end
    if a.dhcp then
        local gen = a.gen
        simbus.post(M.DHCP_MS, function()
            if adapters[id] ~= a or a.gen ~= gen or not a.link or a.ready or not a.dhcp then return end
            -- a lease on the loopback network the adapter really is
            a.ip, a.mask, a.gw = string.format("127.0.%d.2", id), "255.255.255.0", string.format("127.0.%d.1", id)
            went_up(id, a)
        end)
    end
end

--- Adds an adapter (netdrv.setup); has_link: its chip answers (the link
-- comes up LINK_MS later). Setting an adapter up again restarts it.
function M.add(id, impl, what, has_link)
    local old = adapters[id]
    if old then went_down(id, old) end
    local a = { impl = impl, what = what, link = false, dhcp = false, ready = false,
                gen = (old and old.gen or 0) + 1 }
    adapters[id] = a
    if has_link then
        simbus.post(M.LINK_MS, function()
            if adapters[id] ~= a or a.link then return end
            a.link = true
            settle(id, a)
        end)
    end
    return a
end

function M.set_dhcp(id, on)
    local a = adapters[id]
    a.dhcp = on
    if on then a.static = nil end
    a.gen = a.gen + 1
    settle(id, a)
end

--- A static address (DHCP off): up at once when the link is.
function M.set_static(id, ip, mask, gw)
    local a = adapters[id]
    a.dhcp, a.static = false, { ip, mask, gw }
    a.gen = a.gen + 1
    if a.ready then
        a.ip, a.mask, a.gw = ip, mask, gw
        return
    end
    settle(id, a)
end

--- Link up or down (netdrv.ctrl CTRL_UPDOWN, a reset).
function M.set_link(id, up)
    local a = adapters[id]
    a.gen = a.gen + 1
    a.link = up and true or false
    if not up then return went_down(id, a) end
    settle(id, a)
end

-- The Wi-Fi station: what wlan.connect asked for and what it joined.
local sta = { ssid = nil, password = nil, joined = nil, gen = 0 }

local function hex(s) return (s:gsub(".", function(c) return string.format("%02X", c:byte()) end)) end

local function wifi_log(level, ...)
    local l = log()
    if l then l[level]("sim", ...) end
end

--- The station adapter comes into existence (wlan.init); true.
function M.wlan_init()
    local a = adapters[M.LWIP_STA]
    if a then return true end
    a = M.add(M.LWIP_STA, 0, "Wi-Fi STA", false)
    a.dhcp = true
    return true
end

function M.wlan_inited() return adapters[M.LWIP_STA] ~= nil end

--- The network the station is associated with, or nil.
function M.wlan_joined() return sta.joined end

--- Starts an association with the network named ssid (nil: the one whose
-- BSSID is bssid): the outcome comes ASSOC_MS / ASSOC_FAIL_MS later as
-- WLAN_STA_INC, then the lease as IP_READY(ip, LWIP_STA). false before
-- wlan_init.
function M.wlan_connect(ssid, password, bssid)
    local a = adapters[M.LWIP_STA]
    if not a then return false end
    -- a new association drops the old one first, as a module's does
    if sta.joined then M.wlan_disconnect(true) end
    local net
    for _, n in ipairs(networks) do
        if (ssid == nil or n.ssid == ssid) and (bssid == nil or n.bssid == bssid) then net = n break end
    end
    ssid = ssid or (net and net.ssid) or hex(bssid)
    sta.ssid, sta.password = ssid, password or ""
    sta.gen = sta.gen + 1
    local gen = sta.gen
    local reason = not net and M.REASON_NO_AP_FOUND or
        (net.password ~= sta.password and M.REASON_WRONG_PASSWORD) or nil
    simbus.post(reason and M.ASSOC_FAIL_MS or M.ASSOC_MS, function()
        if sta.gen ~= gen or adapters[M.LWIP_STA] ~= a then return end
        if reason then
            wifi_log("warn", string.format("wlan: cannot join %q: %s (reason %d)", ssid,
                reason == M.REASON_NO_AP_FOUND and "no such network in range (--wifi)" or "wrong password",
                reason))
            publish("WLAN_STA_INC", "DISCONNECTED", reason)
            return
        end
        sta.joined = net
        wifi_log("info", string.format("wlan: joined %q (bssid %s, channel %d, rssi %d)", ssid, hex(net.bssid),
            net.channel, net.rssi))
        publish("WLAN_STA_INC", "CONNECTED", ssid, net.bssid)
        a.gen = a.gen + 1
        a.link = true
        settle(M.LWIP_STA, a)
    end)
    return true
end

--- Leaves the network (wlan.disconnect): WLAN_STA_INC "DISCONNECTED",
-- then IP_LOSE if the station had an address. quiet: no event (a new
-- connect replaces the association).
function M.wlan_disconnect(quiet)
    local a = adapters[M.LWIP_STA]
    sta.gen = sta.gen + 1
    if not a then return end
    local was = sta.joined
    sta.joined = nil
    a.gen = a.gen + 1
    a.link = false
    if was and not quiet then
        wifi_log("info", string.format("wlan: left %q", was.ssid))
        publish("WLAN_STA_INC", "DISCONNECTED")
    end
    went_down(M.LWIP_STA, a)
end

--- Bit i set for every ready adapter i (netdrv.ready(-1)).
function M.ready_mask()
    local mask = 0
    for id = 1, 16 do
        if M.up(id) then mask = mask | (1 << id) end
    end
    return mask
end

return M
