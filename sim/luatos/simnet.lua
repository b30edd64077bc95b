--- simnet: the simulated module's network adapters (LuatOS's lwIP netifs),
-- shared by socket, netdrv, http and the FOTA transfers.
--
-- The cellular adapter (LWIP_GP) is always there and follows the simulated
-- network (up after --net-delay, never with --offline). Others exist once a
-- script sets them up (netdrv.setup): an Ethernet chip (CH390) on an SPI bus
-- the script has opened gets its link LINK_MS later, then an address by
-- DHCP (DHCP_MS after the link, once netdrv.dhcp turned it on) or a static
-- one (netdrv.ipv4), and IP_READY(ip, adapter) is published, as on a module.
-- Every adapter is the desktop's network underneath: the simulator says in
-- its log which adapter it pretends to be.
local simdevice = require "simdevice"
local simbus = require "simbus"

local M = {
    LWIP_GP = 1, LWIP_STA = 2, LWIP_AP = 3, LWIP_ETH = 4, LWIP_SPI = 5, LWIP_UART = 6,
    LWIP_USER0 = 7,   -- .. LWIP_USER7 = 14, LWIP_GP_GW 15, LWIP_USB 16 (luat_network_adapter.h)
    LINK_MS = 100,    -- from netdrv.setup to the Ethernet link
    DHCP_MS = 400,    -- from link (and DHCP on) to the lease
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

--- Bit i set for every ready adapter i (netdrv.ready(-1)).
function M.ready_mask()
    local mask = 0
    for id = 1, 16 do
        if M.up(id) then mask = mask | (1 << id) end
    end
    return mask
end

return M
