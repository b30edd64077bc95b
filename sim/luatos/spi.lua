--- spi: LuatOS's SPI master, with nothing on the bus but the SD card slot.
--
-- The SD-card demos set the bus up (spi.setup, or spi.deviceSetup) before
-- fatfs.mount(fatfs.SPI, "/sd", id, cs, ...), which then reaches the card
-- (bin/luatos-sim --sd DIR) itself. No other SPI device is simulated: a
-- transfer goes out to nobody and reads what an idle bus gives, 0xFF bytes
-- (MISO pulled high), as on a module with nothing wired to the bus.
local spi = {
    MSB = 1, LSB = 0, master = 1, slave = 0, full = 1, half = 0,
    SPI_0 = 0, SPI_1 = 1, SPI_2 = 2, SPI_3 = 3, SPI_4 = 4, HSPI_0 = 5,
}

local BUSES = 2              -- an EC618 / EC718 module: SPI0 and SPI1
local open = {}              -- id -> its settings
local devices = {}           -- id -> true once spi.deviceSetup opened a device on it

local argcheck = require "argcheck"
local check_int, opt_int, arg_error = argcheck.int, argcheck.opt_int, argcheck.error

-- The bytes to send: a string, a number, or a zbuff from its cursor.
local function data_arg(v, i)
    if type(v) == "userdata" and v.toStr then return v:toStr(v:used(), v:len() - v:used()) end
    if type(v) == "number" then return tostring(v) end
    if type(v) ~= "string" then arg_error(i, "string expected, got " .. (v == nil and "no value" or type(v))) end
    return v
end

local function settings(n, ...)
    local id, cs, cpha, cpol, dataw, rate, dict, master, mode = ...
    return { id = check_int(id, 1, n >= 1), cs = opt_int(cs, 2, 255), cpha = opt_int(cpha, 3, 0),
             cpol = opt_int(cpol, 4, 0), dataw = opt_int(dataw, 5, 8), rate = opt_int(rate, 6, 2000000),
             dict = opt_int(dict, 7, 1), master = opt_int(master, 8, 1), mode = opt_int(mode, 9, 1) }
end

argcheck.helper(data_arg)
argcheck.helper(settings)

--- spi.setup(id, cs, CPHA, CPOL, dataw, bandrate, bitdict, ms, mode) -> 0, or -1 for a bus the module lacks
function spi.setup(...)
    local s = settings(select("#", ...), ...)
    if s.id < 0 or s.id >= BUSES then return -1 end
    open[s.id] = s
    return 0
end

--- spi.close(id | device) -> 0
function spi.close(id)
    if type(id) == "table" and id.spi_device then return id:close() end
    id = check_int(id, 1, id ~= nil)
    open[id] = nil
    return 0
end

--- spi.transfer(id, data[, send_len, recv_len]) -> recv_len (default 1) bytes of an idle bus
function spi.transfer(id, data, send_len, recv_len)
    check_int(id, 1, id ~= nil)
    data = data_arg(data, 2)
    opt_int(send_len, 3, #data)
    recv_len = opt_int(recv_len, 4, 1)
    if recv_len <= 0 then return "" end
    if not open[id] then return nil end
    return string.rep("\xFF", recv_len)
end

--- spi.recv(id, size[, zbuff]) -> size bytes of an idle bus (a zbuff: the count written into it)
function spi.recv(id, size, buff)
    check_int(id, 1, id ~= nil)
    size = check_int(size, 2, size ~= nil)
    if not open[id] or size <= 0 then return nil end
    local bytes = string.rep("\xFF", size)
    if type(buff) == "userdata" and buff.write then return buff:write(bytes) end
    return bytes
end

--- spi.send(id, data[, len]) -> bytes sent (0 when the bus is not set up)
function spi.send(id, data, len)
    check_int(id, 1, id ~= nil)
    data = data_arg(data, 2)
    len = opt_int(len, 3, #data)
    if not open[id] then return 0 end
    return math.max(0, math.min(len, #data))
end

local Device = {}
Device.__index = Device

function Device:close()
    self.closed = true
    return 0
end
function Device:transfer(data, send_len, recv_len)
    if self.closed then return nil end
    data = data_arg(data, 1)
    opt_int(send_len, 2, #data)
    recv_len = opt_int(recv_len, 3, 1)
    return string.rep("\xFF", math.max(0, recv_len))
end
function Device:send(data, len)
    if self.closed then return 0 end
    data = data_arg(data, 1)
    return math.max(0, math.min(opt_int(len, 2, #data), #data))
end
function Device:recv(size)
    if self.closed then return nil end
    return string.rep("\xFF", math.max(0, check_int(size, 1, size ~= nil)))
end

--- spi.deviceSetup(id, cs, CPHA, CPOL, dataw, bandrate, bitdict, ms, mode) -> a device, nil for a missing bus
function spi.deviceSetup(...)
    local s = settings(select("#", ...), ...)
    if s.id < 0 or s.id >= BUSES then return nil end
    s.spi_device = true
    devices[s.id] = true
    return setmetatable(s, Device)
end

function spi.deviceTransfer(dev, ...) return dev:transfer(...) end
function spi.deviceSend(dev, ...) return dev:send(...) end

-- The simulator's side: an SPI chip (netdrv's CH390) answers on an open bus.
spi.sim = {}
function spi.sim.is_open(id) return open[id] ~= nil or devices[id] == true end

return spi
