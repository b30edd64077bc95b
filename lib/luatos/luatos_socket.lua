--- socket (as luatos_socket): the network adapter facts LuatOS scripts check before they go
-- online (socket.adapter, socket.localIP, socket.dft). The simulated module
-- has one cellular adapter whose link follows the simulated network.
local simdevice = require "simdevice"

local socket = {
    LWIP_GP = 1, LWIP_STA = 2, LWIP_AP = 3, LWIP_ETH = 4, USB = 5, ETH0 = 6,
}
local default = socket.LWIP_GP

local function adapter_of(a) return math.tointeger(a) or default end

--- isReady, adapter: the link is up on the cellular adapter.
function socket.adapter(a)
    a = adapter_of(a)
    return a == socket.LWIP_GP and simdevice.network_up(), a
end

--- ip, netmask, gateway of the adapter, or nil while it is down.
function socket.localIP(a)
    if adapter_of(a) ~= socket.LWIP_GP or not simdevice.network_up() then return nil end
    return "127.0.0.1", "255.0.0.0", "127.0.0.1"
end

--- The default adapter (set with an argument), as a module returns it.
function socket.dft(a)
    if a ~= nil then default = adapter_of(a) end
    return default
end

return socket
