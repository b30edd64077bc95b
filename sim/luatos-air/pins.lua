--- pins for LuatOS-Air projects without LuatOS-Air's own lib/: setup and
-- close a GPIO through pio (sim/luatos-air/airnative.lua), as the library:
--   pins.setup(pin, val, pull): val a number, an output at that level (the
--     returned function sets it); val a function, an input whose changes call
--     val(msg) (cpu.INT_GPIO_POSEDGE / NEGEDGE); nil, an input (the returned
--     function reads it). pull: pio.PULLUP / PULLDOWN.
--   pins.close(pin)
local pio = require "pio"
local rtos = require "rtos"

local pins = {}
local on_change = {}   -- pin -> val of an input with interrupts

local function interrupt(msg)
    local fn = on_change[msg.int_resnum]
    if fn then fn(msg.int_id) end
end

function pins.setup(pin, val, pull)
    if math.tointeger(pin) == nil then
        error("bad argument #1 to 'setup' (number expected, got " .. type(pin) .. ")", 2)
    end
    on_change[pin] = nil
    pio.pin.close(pin)
    if pull then pio.pin.setpull(pull, pin) end
    if type(val) == "number" then
        pio.pin.setdir(pio.OUTPUT, pin)
        pio.pin.setval(val, pin)
        return function(v) pio.pin.setval(v, pin) end
    elseif type(val) == "function" then
        if next(on_change) == nil then rtos.on(rtos.MSG_INT, interrupt) end
        on_change[pin] = val
        pio.pin.setdir(pio.INT, pin)
        return function() return pio.pin.getval(pin) end
    end
    pio.pin.setdir(pio.INPUT, pin)
    return function() return pio.pin.getval(pin) end
end

function pins.close(pin)
    on_change[pin] = nil
    pio.pin.close(pin)
end

_G.pins = pins
return pins
