--- netdrv: LuatOS's network device manager over the simulated adapters
-- (simnet). What a module with an SPI Ethernet chip does, as the
-- netdrv-based demos and LuatOS's exnetif drive it:
--   spi.setup(1, nil, 0, 0, 8, 25600000)
--   netdrv.setup(socket.LWIP_ETH, netdrv.CH390, {spi = 1, cs = 12})
--   netdrv.dhcp(socket.LWIP_ETH, true)   -- or netdrv.ipv4(id, ip, mask, gw)
--   sys.waitUntil("IP_READY") -- (ip, socket.LWIP_ETH)
-- A CH390 (or W5500 / CH395) answers when its SPI bus is open; the link
-- is up simnet.LINK_MS later. The module's own cellular adapter (LWIP_GP)
-- is always there, and so is its Wi-Fi station (LWIP_STA) once wlan.init()
-- ran (wlan.lua); a built-in Ethernet controller (an Air8101's), the
-- Air8000's WHALE link to its Wi-Fi coprocessor (airlink) and an access
-- point are not simulated: setup says false. Nothing is forwarded between
-- adapters (napt records the gateway; there is no LAN side to serve).
local simnet = require "simnet"
local argcheck = require "argcheck"
local check_int, opt_int, opt_str = argcheck.int, argcheck.opt_int, argcheck.opt_str

local netdrv = {
    CH390 = 1, CH395 = 2, W5500 = 3, UART = 16, WHALE = 64,
    CTRL_RESET = 0, CTRL_UPDOWN = 1, RESET_HARD = 0x101, RESET_SOFT = 0x102,
}
local CHIPS = { [1] = "CH390", [2] = "CH395", [3] = "W5500" }

local function log() return rawget(_G, "log") end
local function warn(...)
    local l = log()
    if l then l.warn("netdrv", ...) end
end

local function spi_open(id)
    local spi = rawget(_G, "spi")
    return spi and spi.sim and spi.sim.is_open(id)
end

--- netdrv.setup(id, tp, opts) -> true when the device exists.
function netdrv.setup(id, tp, opts)
    id = check_int(id, 1, id ~= nil)
    tp = opt_int(tp, 2, 0)
    if opts ~= nil and type(opts) ~= "table" then opts = nil end
    if id == simnet.LWIP_GP then return tp == 0 end   -- the cellular netif is the module's own
    local eth_like = id == simnet.LWIP_ETH or (id >= simnet.LWIP_USER0 and id <= simnet.LWIP_USER0 + 7)
    if CHIPS[tp] and eth_like then
        local bus = opts and math.tointeger(opts.spi) or 0
        local cs = opts and math.tointeger(opts.cs)
        local what = string.format("%s on SPI%d%s", CHIPS[tp], bus, cs and (", cs " .. cs) or "")
        local answers = spi_open(bus)
        if not answers then
            warn(simnet.name(id), what .. ": the SPI bus is not open (spi.setup): no link")
        end
        simnet.add(id, tp, what, answers)
        return true
    end
    if id == simnet.LWIP_STA and tp == 0 then
        -- the station netif is the radio's own: there once wlan.init() ran
        if not simnet.wlan_inited() then warn(simnet.name(id), "no station yet: call wlan.init()") end
        return simnet.wlan_inited()
    end
    if tp == 0 and eth_like then
        warn(simnet.name(id), "this module has no built-in Ethernet controller (an SPI chip needs netdrv.CH390)")
    elseif tp == netdrv.WHALE then
        warn(simnet.name(id), "WHALE is the airlink to a Wi-Fi coprocessor (Air8000): hardware this simulator"
            .. " does not provide; the simulated Wi-Fi is wlan's own station (wlan.init, --wifi)")
    elseif id == simnet.LWIP_AP then
        warn(simnet.name(id), "a Wi-Fi access point is not simulated (no Wi-Fi clients to serve)")
    else
        warn(simnet.name(id), "device type " .. tp .. " is not simulated")
    end
    return false
end

--- netdrv.dhcp(id, enable[, name]) -> true, false for an adapter that has
-- no netdrv or cannot change it (the cellular one).
function netdrv.dhcp(id, enable, name)
    id = check_int(id, 1, id ~= nil)
    opt_str(name, 3)
    if id == simnet.LWIP_GP then return enable and true or false end
    if not simnet.get(id) then return false end
    simnet.set_dhcp(id, enable and true or false)
    return true
end

local function parse_ip(s)
    if type(s) ~= "string" then return nil end
    local p = { s:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$") }
    if #p ~= 4 then return nil end
    for _, v in ipairs(p) do if #v > 3 or tonumber(v) > 255 then return nil end end
    return s
end

--- netdrv.ipv4(id[, addr, mask, gw]) -> ip, mask, gw ("0.0.0.0" while it
-- has none); nothing for a missing adapter or a bad address. Setting one
-- turns DHCP off. The cellular adapter's cannot be set.
function netdrv.ipv4(id, addr, mask, gw)
    id = check_int(id, 1, id ~= nil)
    if not simnet.exists(id) then
        warn("no netdrv", id)
        return
    end
    if id == simnet.LWIP_GP then
        local ip, m, g = simnet.address(id)
        if not ip then return "", "", "" end
        return ip, m, g
    end
    if type(addr) == "string" and type(mask) == "string" and type(gw) == "string" then
        if not (parse_ip(addr) and parse_ip(mask) and parse_ip(gw)) then
            warn("bad address", id, addr, mask, gw)
            return
        end
        simnet.set_static(id, addr, mask, gw)
        local l = log()
        if l then l.info("netdrv", "static ip", simnet.name(id), addr, mask, gw) end
    end
    local ip, m, g = simnet.address(id)
    if not ip then
        local s = simnet.get(id).static
        if s then return s[1], s[2], s[3] end
        return "0.0.0.0", "0.0.0.0", "0.0.0.0"
    end
    return ip, m, g
end

--- netdrv.ready(id) -> the adapter can carry traffic; nil for a missing
-- one. ready(-1) -> any, bit mask of the ready adapters.
function netdrv.ready(id)
    id = check_int(id, 1, id ~= nil)
    if id < 0 then
        local mask = simnet.ready_mask()
        return mask > 0, mask
    end
    if not simnet.exists(id) then return nil end
    return simnet.up(id) and true or false
end

--- netdrv.link(id) -> the physical link is up; nil for a missing adapter.
function netdrv.link(id)
    id = check_int(id, 1, id ~= nil)
    if id < 0 or not simnet.exists(id) then return nil end
    return simnet.link(id) and true or false
end

--- netdrv.mac(id) -> the adapter's MAC as 12 hex digits (6 bytes with
-- raw == false), derived from the device's IMEI and the adapter.
function netdrv.mac(id, _, raw)
    id = check_int(id, 1, id ~= nil)
    local imei = require("simdevice").profile().imei
    local n = tonumber(imei:sub(-9)) or 0
    local bytes = string.char(0x0c, id & 0xff, (n >> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff)
    if raw == false then return bytes end
    return (bytes:gsub(".", function(c) return string.format("%02X", c:byte()) end))
end

local napt_gw = -1
--- netdrv.napt(gw_id) -> true; nil for a gateway adapter that does not exist.
function netdrv.napt(id)
    id = opt_int(id, 1, -1)
    if id < 0 then
        napt_gw = -1
        return true
    end
    if not simnet.exists(id) then return nil end
    napt_gw = id
    local l = log()
    if l then l.info("netdrv", "NAPT gateway", simnet.name(id), "(recorded: no LAN side is simulated)") end
    return true
end

--- The NAPT gateway adapter, or -1 (simulator only).
function netdrv.napt_gateway() return napt_gw end

--- netdrv.ctrl(id, cmd, arg) -> ok, code: CTRL_RESET restarts the chip
-- (its link drops and comes back), CTRL_UPDOWN 1/0 brings it up or down.
function netdrv.ctrl(id, cmd, arg)
    id = check_int(id, 1, id ~= nil)
    cmd = check_int(cmd, 2, cmd ~= nil)
    arg = check_int(arg, 3, arg ~= nil)
    local a = simnet.get(id)
    if not a then
        warn("not such netdrv", id)
        return nil
    end
    if cmd == netdrv.CTRL_UPDOWN then
        simnet.set_link(id, arg ~= 0)
    elseif cmd == netdrv.CTRL_RESET then
        simnet.set_link(id, false)
        require("simbus").post(simnet.LINK_MS, function()
            if simnet.get(id) == a then simnet.set_link(id, true) end
        end)
    else
        return false, -1
    end
    return true, 0
end

return netdrv
