--- gpio: LuatOS's gpio API over a simulated pin bank.
--
-- A pin the script drives (gpio.setup(pin, 0|1), gpio.set, gpio.toggle) is
-- logged ("I/user.gpio GPIO27 output 1") and readable from the outside:
-- gpio.sim.level(pin), and DEVICE/gpio.out in the simulator's boot (one
-- "PIN LEVEL" line per output pin, rewritten on every change). A pin the
-- script reads (input or interrupt) is driven from the outside: the scripted
-- --gpio option of bin/luatos-sim, the file DEVICE/gpio.in ("PIN LEVEL"
-- lines appended by a host tool, read by a 20 ms poll), or gpio.sim.drive.
--
-- As on a module, an interrupt callback is not called where the edge happens:
-- it is queued on the message bus (simbus) and runs from the script's message
-- loop (sys.run), with (level, pin); debouncing (gpio.debounce, modes 0 and 1)
-- and interrupt counting (gpio.setup(pin, gpio.count)) work as LuatOS's
-- luat_lib_gpio.c does. Pin numbers and the named pins (gpio.PWR_KEY,
-- gpio.WAKEUP0, ...) are those of the device's bsp (gpio.sim.board): EC618
-- (Air780E, the default), EC718 (Air780EP/EPM/EHM ...) or EC716.
local simbus = require "simbus"
local host = require "fota.host"

-- The simulator's own files (gpio.in, gpio.out) are desktop files, never
-- the module's: the plain io functions, taken before the boot maps paths.
local io_open, os_rename = io.open, os.rename

local gpio = {
    LOW = 0, HIGH = 1, OUTPUT = 0, PULLUP = 1, PULLDOWN = 2,
    RISING = 0, FALLING = 1, BOTH = 2, HIGH_IRQ = 3, LOW_IRQ = 4,
    NONE = 255,
}

local PIN_MAX = 127          -- LUAT_GPIO_PIN_MAX: ids 0 .. 126
local POLL_MS = 20           -- how often DEVICE/gpio.in is read while an interrupt pin waits
local DEFAULT = 0            -- Luat_GPIO_DEFAULT pull

-- Each bsp's pin numbering (its platform_define.h): plain GPIOs 0 .. gpio_max - 1,
-- then the wake-up pads, the charger detect and the power key, which are inputs only.
local BOARDS = {
    EC618 = { gpio_max = 32, qty = 36,
        names = { WAKEUP0 = 32, WAKEUP1 = 33, VBUS = 33, WAKEUP2 = 34, USIM_DET = 34, PWR_KEY = 35,
                  AUDIOPA_EN = 22 } },
    EC718 = { gpio_max = 39, qty = 47,
        names = { WAKEUP0 = 39, WAKEUP1 = 40, VBUS = 40, WAKEUP2 = 41, USIM_DET = 41, WAKEUP3 = 42,
                  WAKEUP4 = 43, WAKEUP5 = 44, WAKEUP6 = 45, CHG_DET = 45, PWR_KEY = 46, AUDIOPA_EN = 22 } },
    EC716 = { gpio_max = 21, qty = 29,
        names = { WAKEUP0 = 21, WAKEUP1 = 22, VBUS = 22, WAKEUP2 = 23, USIM_DET = 23, WAKEUP3 = 24,
                  WAKEUP4 = 25, WAKEUP5 = 26, WAKEUP6 = 27, CHG_DET = 27, PWR_KEY = 28 } },
}
local board                  -- the current one (gpio.sim.board)
local label = {}             -- pin -> its name (PWR_KEY, ...) for the log

local pins = {}              -- pin -> { mode = "output" | "input" | "irq", pull, irq, cb, counting, level }
local latch = {}             -- pin -> the level gpio.set / gpio.toggle last wrote (LuatOS's gpio_out_levels)
local outside = {}           -- pin -> the level the outside world drives (nil: not driven)
local ctx = {}               -- pin -> { ms, mode, last, state, gen, count } (LuatOS's gpios[] context)
local default_pull = DEFAULT
local watch = { path = nil, offset = 0, rest = "", polling = false }
local out_path

local sim = {}
gpio.sim = sim

local function logger() return rawget(_G, "log") or require "log" end

local function name_of(pin) return label[pin] or ("GPIO" .. pin) end

local function pin_ctx(pin)
    local c = ctx[pin]
    if not c then
        c = { ms = 0, mode = 0, last = 0, gen = 0, count = 0 }
        ctx[pin] = c
    end
    return c
end

local argcheck = require "argcheck"
local check_int, opt_int = argcheck.int, argcheck.opt_int

--- The pin bank of a bsp ("EC618", "EC718PM", ...): sets the pin constants.
-- An unknown bsp gets the EC618's numbering (an Air780E's).
function sim.board(bsp)
    local family = tostring(bsp or ""):match("^(EC71[68])") or "EC618"
    for _, b in pairs(BOARDS) do
        for k in pairs(b.names) do gpio[k] = nil end
    end
    board = BOARDS[family]
    label = {}
    for k, v in pairs(board.names) do
        gpio[k] = v
        if not label[v] or #k > #label[v] then label[v] = k end   -- WAKEUP1 over VBUS, PWR_KEY ...
    end
    return family
end
sim.board("EC618")

--- A pin given by number or by name (PWR_KEY, WAKEUP0, GPIO27, 27); nil if unknown.
function sim.resolve(p)
    if math.type(p) == "integer" then return p end
    p = tostring(p)
    if p:match("^%d+$") then return tonumber(p) end
    local n = p:upper():match("^GPIO(%d+)$")
    if n then return tonumber(n) end
    return board.names[p:upper()]
end

-- The level a pin reads as an input: what the outside drives, else its pull
-- (the power key is pulled up on every board: released reads 1).
local function input_level(pin)
    if outside[pin] ~= nil then return outside[pin] end
    local p = pins[pin]
    if p and p.pull == gpio.PULLUP then return 1 end
    if pin == board.names.PWR_KEY then return 1 end
    return 0
end

local function write_outputs()
    if not out_path then return end
    local lines = {}
    for pin, p in pairs(pins) do
        if p.mode == "output" and pin < board.gpio_max then lines[#lines + 1] = { pin, p.level } end
    end
    table.sort(lines, function(a, b) return a[1] < b[1] end)
    for i, l in ipairs(lines) do lines[i] = l[1] .. " " .. l[2] .. "\n" end
    local tmp = out_path .. ".tmp"
    local f = io_open(tmp, "w")
    if not f then return end
    f:write(table.concat(lines))
    f:close()
    os_rename(tmp, out_path)
end

-- Drives an output pin; logs and records a change.
local function drive_output(pin, level, force)
    local p = pins[pin]
    if not p or p.mode ~= "output" then return end
    if pin >= board.gpio_max then return end      -- wake-up pads and the power key cannot output
    level = level ~= 0 and 1 or 0
    if p.level == level and not force then return end
    p.level = level
    logger().info("gpio", name_of(pin), "output", level)
    write_outputs()
end

local function call_irq(pin, level)
    local p = pins[pin]
    if p and p.mode == "irq" and p.cb then p.cb(level, pin) end
end

local function edge_matches(irq, level)
    if irq == gpio.RISING or irq == gpio.HIGH_IRQ then return level == 1 end
    if irq == gpio.FALLING or irq == gpio.LOW_IRQ then return level == 0 end
    return true
end

-- An edge on an interrupt pin, as luat_gpio_irq_default sees it.
local function interrupt(pin, level)
    local p = pins[pin]
    if not p or p.mode ~= "irq" or not edge_matches(p.irq, level) then return end
    local c = pin_ctx(pin)
    if p.counting then
        c.count = c.count + 1
        return
    end
    if c.ms > 0 then
        if c.mode == 0 then
            -- cooling: report at once, then nothing for ms
            local now = host.ms()
            if c.last ~= 0 and now - c.last < c.ms then return end
            c.last = now
        elseif c.mode == 1 then
            -- delay: report once the level has held for ms
            c.state = level
            c.gen = c.gen + 1
            local gen = c.gen
            simbus.post(c.ms, function()
                local q = pins[pin]
                if c.gen ~= gen or c.ms == 0 or not q or q.mode ~= "irq" then return end
                if input_level(pin) ~= c.state or not edge_matches(q.irq, c.state) then return end
                call_irq(pin, c.state)
            end)
            return
        end
    end
    simbus.post(0, call_irq, pin, level)
end

--- The outside world drives pin (number or name) to level 0 / 1; an edge on an
-- interrupt pin queues its callback. source names the driver in the log.
function sim.drive(pin, level, source)
    local n = sim.resolve(pin)
    if not n then error("gpio: unknown pin " .. tostring(pin), 2) end
    level = (level == 1 or level == "1" or level == true) and 1 or 0
    local before = input_level(n)
    outside[n] = level
    local p = pins[n]
    if before ~= level and not (p and p.mode == "output") then
        if source then
            logger().info("gpio", name_of(n), "input", level, "(" .. source .. ")")
        else
            logger().info("gpio", name_of(n), "input", level)
        end
        interrupt(n, level)
    end
    return n
end

--- What a pin is at now: an output's level, else the level it reads as an input.
function sim.level(pin)
    local n = sim.resolve(pin)
    local p = n and pins[n]
    if p and p.mode == "output" then return p.level end
    return n and input_level(n)
end

--- The pin's mode: "output", "input", "irq" or nil (not set up / closed).
function sim.mode(pin)
    local n = sim.resolve(pin)
    return n and pins[n] and pins[n].mode
end

-- DEVICE/gpio.in: new complete lines since the last read.
local function read_watch()
    if not watch.path then return end
    local f = io_open(watch.path, "rb")
    if not f then return end
    local size = f:seek("end")
    if size < watch.offset then watch.offset, watch.rest = 0, "" end   -- replaced by a shorter file
    if size == watch.offset then f:close() return end
    f:seek("set", watch.offset)
    local data = f:read(size - watch.offset) or ""
    f:close()
    watch.offset = watch.offset + #data
    data = watch.rest .. data
    local last = data:match("^.*\n()") or 1
    watch.rest = data:sub(last)
    for line in data:sub(1, last - 1):gmatch("([^\n]*)\n") do
        line = line:gsub("#.*$", "")
        local pin, level = line:match("^%s*([%w_]+)%s+([01])%s*$")
        if pin and sim.resolve(pin) then
            sim.drive(pin, tonumber(level), "gpio.in")
        elseif line:match("%S") then
            logger().warn("sim", "gpio.in: ignored line " .. string.format("%q", line) ..
                " (want PIN LEVEL: a pin number or name, 0 or 1)")
        end
    end
end

local function has_irq()
    for _, p in pairs(pins) do
        if p.mode == "irq" then return true end
    end
    return false
end

-- While an interrupt pin waits, the poll reads gpio.in (and keeps sys.run()
-- going, as a module waits for its key).
local function poll()
    watch.polling = false
    read_watch()
    if watch.path and has_irq() then
        watch.polling = true
        simbus.post(POLL_MS, poll)
    end
end

local function start_poll()
    if watch.path and not watch.polling and has_irq() then
        watch.polling = true
        simbus.post(POLL_MS, poll)
    end
end

--- Reads pin levels from path ("PIN LEVEL" lines appended by a host tool):
-- what it holds now at once, then what is appended.
function sim.watch(path)
    watch.path, watch.offset, watch.rest = path, 0, ""
    read_watch()
    start_poll()
end

--- Writes the output pins' levels to path on every change.
function sim.outputs(path)
    out_path = path
    write_outputs()
end

--- Parses a --gpio script "PIN@MS=LEVEL,..." -> { {pin=, ms=, level=}, ... }, or nil, why.
function sim.parse_script(spec)
    local events = {}
    for item in tostring(spec):gmatch("[^,%s]+") do
        local pin, ms, level = item:match("^([%w_]+)@(%d+)=([01])$")
        if not pin then return nil, "bad --gpio item " .. item .. " (want PIN@MS=LEVEL, LEVEL 0 or 1)" end
        if not sim.resolve(pin) then return nil, "unknown pin " .. pin .. " in --gpio" end
        events[#events + 1] = { pin = pin, ms = tonumber(ms), level = tonumber(level) }
    end
    return events
end

--- Schedules a --gpio script: each level change at its time after now.
function sim.script(spec)
    local events, why = sim.parse_script(spec)
    if not events then return nil, why end
    for _, e in ipairs(events) do
        simbus.post(e.ms, function() sim.drive(e.pin, e.level, "--gpio") end)
    end
    return #events
end

local function in_range(pin) return pin >= 0 and pin < PIN_MAX end

--- gpio.setup(pin, mode[, pull, irq, alt]): mode 0/1 an output (returns a
-- setter), nil an input (returns a getter), a function an interrupt
-- (returns a getter); gpio.count counts interrupts instead. nil on failure.
function gpio.setup(...)
    local n = select("#", ...)
    local pin, mode, pull, irq, alt = ...
    pin = check_int(pin, 1, n >= 1)
    if not in_range(pin) then
        logger().warn("gpio", string.format("id out of range 0 ~ %d, but %d", PIN_MAX, pin))
        return nil
    end
    local conf = {}
    if type(mode) == "function" then
        conf.mode = "irq"
        conf.counting = mode == gpio.count
        conf.cb = not conf.counting and mode or nil
        conf.irq = opt_int(irq, 4, gpio.BOTH)
    elseif math.type(mode) == "integer" then
        conf.mode = "output"
        conf.level = mode == 0 and 0 or 1
    else
        conf.mode = "input"
    end
    conf.pull = opt_int(pull, 3, default_pull)
    if math.type(alt) == "integer" then conf.alt = alt end
    -- the bsp refuses what its pads cannot do
    if pin >= board.qty or (pin == board.names.PWR_KEY and conf.mode ~= "irq") then
        logger().warn("gpio", string.format("gpio setup fail pin=%d ret %d", pin, -1))
        return nil
    end
    local was = pins[pin]
    pins[pin] = conf
    if conf.mode == "output" then
        local level = conf.level
        conf.level = nil
        drive_output(pin, level, true)
        if pin >= board.gpio_max then
            logger().warn("sim", name_of(pin) .. " is an input-only pad: its output level goes nowhere, as on a module")
        end
    elseif was and was.mode == "output" then
        write_outputs()
    end
    if conf.mode == "irq" then start_poll() end
    if conf.mode == "output" then
        return function(...) return gpio.set(pin, check_int((...), 1, select("#", ...) >= 1)) end
    end
    return function() return gpio.get(pin) end
end

--- gpio.set(pin, level): drives an output pin (only an output pin shows it).
function gpio.set(...)
    local n = select("#", ...)
    local pin, value = ...
    pin = check_int(pin, 1, n >= 1)
    value = check_int(value, 2, n >= 2)
    local level = value ~= 0 and 1 or 0
    if in_range(pin) then latch[pin] = level end
    drive_output(pin, level)
end

--- gpio.get(pin) -> 1 / 0: an input's or interrupt pin's level; 0 for an
-- output pin, as LuatOS documents it.
function gpio.get(...)
    local pin = check_int((...), 1, select("#", ...) >= 1)
    read_watch()
    if pin == 255 or pin < 0 or pin >= board.qty then return 0 end
    local p = pins[pin]
    if p and p.mode == "output" then return 0 end
    return input_level(pin)
end

--- gpio.toggle(pin): flips the level gpio.set / gpio.toggle last wrote
-- (LuatOS keeps it apart from gpio.setup's initial level).
function gpio.toggle(...)
    local pin = check_int((...), 1, select("#", ...) >= 1)
    if not in_range(pin) then
        logger().warn("gpio", "pin id out of range (0-127)")
        return
    end
    local level = (latch[pin] or 0) == 0 and 1 or 0
    latch[pin] = level
    drive_output(pin, level)
end

--- gpio.close(pin): back to a high-impedance input, no interrupt.
function gpio.close(...)
    local pin = check_int((...), 1, select("#", ...) >= 1)
    if not in_range(pin) then return end
    local was = pins[pin]
    pins[pin] = nil
    local c = ctx[pin]
    if c and c.mode == 1 then c.ms, c.gen = 0, c.gen + 1 end   -- the delay timer goes with the pin
    if was and was.mode == "output" and pin < board.gpio_max then
        logger().info("gpio", name_of(pin), "closed")
        write_outputs()
    end
end

--- gpio.debounce(pin, ms[, mode]): mode 0 reports an edge at once and then
-- none for ms; mode 1 reports once the level has held for ms. ms 0: off.
function gpio.debounce(...)
    local n = select("#", ...)
    local pin, ms, mode = ...
    pin = check_int(pin, 1, n >= 1) & 0xFF
    ms = check_int(ms, 2, n >= 2) & 0xFFFF
    mode = opt_int(mode, 3, 0) & 0xFF
    if pin >= PIN_MAX then
        logger().warn("gpio", string.format("MUST pin < %d", PIN_MAX))
        return
    end
    local c = pin_ctx(pin)
    c.ms, c.mode, c.last = ms, mode, 0
    c.gen = c.gen + 1
end

--- gpio.count(pin) -> interrupts counted since the last call (gpio.setup(pin, gpio.count)).
function gpio.count(...)
    local pin = check_int((...), 1, select("#", ...) >= 1) & 0xFF
    if pin >= PIN_MAX then
        logger().warn("gpio", string.format("MUST pin < %d", PIN_MAX))
        return 0
    end
    local c = pin_ctx(pin)
    local v = c.count
    c.count = 0
    return v
end

--- gpio.setDefaultPull(0 | 1 | 2) -> true, false for another value.
function gpio.setDefaultPull(...)
    local v = check_int((...), 1, select("#", ...) >= 1)
    if v >= 0 and v <= 2 then
        default_pull = v
        return true
    end
    return false
end

--- gpio.pulse(pin, level, len, delay): len bits of level (an integer or a
-- string), highest first, on an output pin; it stays at the last bit.
function gpio.pulse(...)
    local n = select("#", ...)
    local pin, level, len, delay = ...
    pin = check_int(pin, 1, n >= 1)
    local bytes
    if math.type(level) == "integer" then bytes = string.char(level & 0xFF)
    elseif type(level) == "string" or type(level) == "number" then bytes = tostring(level) end
    len = check_int(len, 3, n >= 3)
    check_int(delay, 4, n >= 4)
    if not in_range(pin) then
        logger().debug("gpio", "pin id out of range (0-127)")
        return
    end
    if not bytes then return end
    local bits = {}
    for i = 0, math.min(len, #bytes * 8) - 1 do
        local b = bytes:byte(i // 8 + 1)
        bits[#bits + 1] = (b >> (7 - i % 8)) & 1
    end
    local p = pins[pin]
    if #bits == 0 or not p or p.mode ~= "output" or pin >= board.gpio_max then return end
    logger().info("gpio", name_of(pin), "pulse", table.concat(bits))
    p.level = bits[#bits]
    write_outputs()
end

return gpio
