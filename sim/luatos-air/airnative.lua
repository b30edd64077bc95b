--- The Air724 firmware's natives that LuatOS-Air's own lib/*.lua calls
-- besides rtos and uart: pio (GPIO by number: pio.P0_n is GPIO n, P1_n
-- GPIO 32+n, P2_n GPIO 64+n), over the simulator's gpio (so
-- DEVICE/gpio.out and gpio.in work for Air pins too), and pmd (power:
-- LDO levels and sleep are accepted and kept; the desktop has no LDOs).
-- An interrupt pin sends rtos.MSG_INT as {id=, int_id=, int_resnum=pin},
-- which the library's pins.lua dispatches. iconv converts between UTF-8
-- and UCS-2 (little- or big-endian), what lib/common.lua's helpers and
-- lib/update.lua's error messages use; GB2312 needs the firmware's tables:
-- a converter to or from it gives nil.
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

--- iconv.open(to, from) -> a converter with :iconv(s), as the firmware's.
function M.iconv()
    local function units(s, be)   -- UCS-2 code units of s
        local fmt = be and ">I2" or "<I2"
        local out = {}
        for i = 1, #s - 1, 2 do out[#out + 1] = string.unpack(fmt, s, i) end
        return out
    end
    local function ucs2(s, be)   -- UTF-8 to UCS-2 (characters past U+FFFF have no UCS-2 form: '?')
        local out = {}
        for _, c in utf8.codes(s) do out[#out + 1] = string.pack(be and ">I2" or "<I2", c > 0xFFFF and 63 or c) end
        return table.concat(out)
    end
    local conv = {
        ["utf8<ucs2"] = function(s) return utf8.char(table.unpack(units(s, false))) end,
        ["utf8<ucs2be"] = function(s) return utf8.char(table.unpack(units(s, true))) end,
        ["ucs2<utf8"] = function(s) return ucs2(s, false) end,
        ["ucs2be<utf8"] = function(s) return ucs2(s, true) end,
    }
    local converter = { __index = {} }
    function converter.__index.iconv(cd, s)
        if type(s) ~= "string" or not cd.fn then return nil end
        local ok, out = pcall(cd.fn, s)   -- invalid UTF-8 input gives nil, as a failed conversion
        return ok and out or nil
    end
    return {
        open = function(to, from)
            return setmetatable({ fn = conv[tostring(to):lower() .. "<" .. tostring(from):lower()] }, converter)
        end,
    }
end

return M
