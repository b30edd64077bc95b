--- The Air724 firmware's natives that LuatOS-Air's own lib/*.lua calls
-- besides rtos and uart: pio (GPIO by number: pio.P0_n is GPIO n, P1_n
-- GPIO 32+n, P2_n GPIO 64+n), over the simulator's gpio (so
-- DEVICE/gpio.out and gpio.in work for Air pins too), and pmd (power:
-- LDO levels and sleep are accepted and kept; the desktop has no LDOs).
-- An interrupt pin sends rtos.MSG_INT as {id=, int_id=, int_resnum=pin},
-- which the library's pins.lua dispatches.
local simbus = require "simbus"

local M = {}

function M.pio(gpio, rtos)
    local pio = { INPUT = 0, OUTPUT = 1, OUTPUT1 = 2, INT = 3,
                  NOPULL = 0, PULLUP = 1, PULLDOWN = 2,
                  INT_GPIO_POSEDGE = 0, INT_GPIO_NEGEDGE = 1 }
    for port = 0, 2 do
        for n = 0, 31 do pio["P" .. port .. "_" .. n] = port * 32 + n end
    end
    local pulls = {}
    local function pin_arg(pin, fn)
        return math.tointeger(pin) or error("bad argument #2 to '" .. fn .. "' (number expected, got " ..
            (pin == nil and "no value" or type(pin)) .. ")", 3)
    end
    local function gpio_pull(p)
        if p == pio.PULLUP then return gpio.PULLUP elseif p == pio.PULLDOWN then return gpio.PULLDOWN end
    end
    pio.pin = {}
    function pio.pin.setdir(dir, pin)
        pin = pin_arg(pin, "setdir")
        if dir == pio.OUTPUT or dir == pio.OUTPUT1 then
            gpio.setup(pin, dir == pio.OUTPUT1 and 1 or 0)
        elseif dir == pio.INPUT then
            gpio.setup(pin, nil, gpio_pull(pulls[pin]))
        elseif dir == pio.INT then
            gpio.setup(pin, function(level)
                simbus.post_msg(0, function()
                    return { id = rtos.MSG_INT, int_resnum = pin,
                             int_id = level == 1 and pio.INT_GPIO_POSEDGE or pio.INT_GPIO_NEGEDGE }
                end)
            end, gpio_pull(pulls[pin]), gpio.BOTH)
        else
            error("bad argument #1 to 'setdir' (pio.INPUT, OUTPUT, OUTPUT1 or INT expected)", 2)
        end
    end
    function pio.pin.setpull(pull, pin) pulls[pin_arg(pin, "setpull")] = pull end
    function pio.pin.setval(val, pin) gpio.set(pin_arg(pin, "setval"), val == 0 and 0 or 1) end
    function pio.pin.getval(pin) return gpio.get(pin_arg(pin, "getval")) end
    function pio.pin.close(pin) gpio.close(pin_arg(pin, "close")) end
    return pio
end

function M.pmd()
    local pmd = { LDO_VLCD = 1, LDO_VMMC = 2, LDO_VSIM1 = 3, LDO_VCAMA = 4, LDO_VCAMD = 5,
                  LDO_VIBR = 6, LDO_VLCDIO = 7, LDO_VSPIMEM = 8, LDO_VBACKLIGHT_R = 9 }
    local ldo, asleep = {}, 0
    --- pmd.ldoset(level, ldo, ...): level 0 off, 1..15 on.
    function pmd.ldoset(level, ...)
        level = math.tointeger(level) or error("bad argument #1 to 'ldoset' (number expected)", 2)
        for i = 1, select("#", ...) do ldo[(select(i, ...))] = level end
    end
    function pmd.ldoget(which) return ldo[which] or 0 end
    --- pmd.sleep(1) lets the module sleep, 0 keeps it awake.
    function pmd.sleep(on) asleep = on == 1 and 1 or 0 end
    function pmd.issleep() return asleep end
    --- The charger's parameters: the desktop is on mains (battery full, 4.2 V).
    function pmd.param_get() return 4200, 4200, 100, 0 end
    function pmd.init() return true end
    return pmd
end

return M
