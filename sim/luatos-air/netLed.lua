--- netLed for LuatOS-Air projects without LuatOS-Air's own lib/: the
-- network LED. setup(flag, ledPin, ltePin) sets the pins up as outputs
-- (through pio, so --gpio shows them); the LED follows the network as the
-- library's states go: on (level 1) while registered, off otherwise; the
-- LTE pin is on while on LTE. The library blinks each state with the times
-- updateBlinkTime sets; the simulator does not blink (a blinking task would
-- keep every project running forever): the times are kept, the level is
-- steady.
local simdevice = require "simdevice"
local pio = require "pio"

local netLed = {}

local enabled, led, lte = false, nil, nil
local blink = { FLYMODE = { 0, 0xFFFF }, SIMERR = { 300, 5700 }, IDLE = { 300, 3700 }, GSM = { 300, 1700 },
                GPRS = { 300, 700 }, SCK = { 100, 100 } }
local state = "IDLE"

local function sys() return rawget(_G, "sys") or require "sys" end

local function show()
    if not enabled then return end
    local up = simdevice.network_up()
    local now = up and "GPRS" or "IDLE"
    if now ~= state then log.info("netLed", "state", now) end
    state = now
    if led then pio.pin.setval(up and 1 or 0, led) end
    if lte then pio.pin.setval(up and 1 or 0, lte) end
end

--- setup(flag, ledPin, ltePin): flag true turns the LED on, false off (pins
-- low and left as they are).
function netLed.setup(flag, ledPin, ltePin)
    enabled = flag and true or false
    led, lte = ledPin, ltePin
    for _, pin in ipairs({ ledPin or false, ltePin or false }) do
        if pin then
            pio.pin.setdir(pio.OUTPUT, pin)
            pio.pin.setval(0, pin)
        end
    end
    show()
end

--- updateBlinkTime(state, on, off): the blink of one state (ms), kept.
function netLed.updateBlinkTime(name, on, off)
    if not blink[name] then
        error("bad argument #1 to 'updateBlinkTime' (unknown state " .. tostring(name) .. ")", 2)
    end
    blink[name] = { on or blink[name][1], off or blink[name][2] }
end

--- The state the LED shows: FLYMODE, SIMERR, IDLE, GSM, GPRS or SCK.
function netLed.getState() return state end

sys().subscribe("IP_READY_IND", show)
sys().subscribe("NET_STATE_UNREGISTER", show)

_G.netLed = netLed
return netLed
