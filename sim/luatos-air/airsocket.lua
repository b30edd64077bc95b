--- socket for LuatOS-Air projects: Air's socket.isReady() beside the
-- adapter facts of sim/luatos/luatos_socket.lua (one owner of the link
-- state: simdevice). The Air boot makes it the global socket.
local simdevice = require "simdevice"
local base = require "luatos_socket"

local socket = setmetatable({}, { __index = base })

--- true once the network is up (IP_READY_IND has been published).
function socket.isReady() return simdevice.network_up() end

return socket
