--- atc: uart.ATC, the Air724 firmware's virtual AT channel, on the desktop.
-- LuatOS-Air's own ril.lua writes AT commands to it (uart.write(uart.ATC,
-- "AT+CSQ\r")) and reads the answers line by line (uart.read(uart.ATC,
-- "*l", 0)) when told that data arrived: by the firmware's uart.on
-- callback, and by rtos.receive giving rtos.MSG_UART_RXDATA, uart.ATC (what
-- the library's clib.lua dispatches). This answers as a registered LTE
-- module with a SIM (IMEI, ICCID, IMSI from the simulated device) and sends
-- the URCs ril/net/link wait for: RDY and +CPIN: READY once the channel is
-- set up, then, when the simulated network comes up (--net-delay; never
-- with --offline), ^MODE: 17,17 and +CEREG: 1 (registered), after which
-- net publishes NET_STATE_REGISTERED and link finds the default bearer
-- active (+CGDCONT? with an address) and publishes IP_READY_IND.
-- Commands it does not know get OK, as set commands on a module do.
local simbus = require "simbus"
local simdevice = require "simdevice"

local atc = { ID = 0x7f, MSG_UART_RXDATA = 2, MSG_UART_TX_DONE = 3 }

local rx = ""            -- answer bytes not read yet
local cmdbuf = ""        -- command bytes written, up to the next \r
local open = false
local on_receive, on_sent
local registered = false

-- Tells the script that bytes are waiting: the firmware's callback (a
-- project on the simulator's libraries), and the message rtos.receive
-- gives (a project shipping LuatOS-Air's own sys.lua/clib.lua).
local function deliver(text)
    if not open then return end
    simbus.post_msg(0, function()
        rx = rx .. text
        if on_receive then on_receive(atc.ID, #rx) end
        return atc.MSG_UART_RXDATA, atc.ID, #rx
    end)
end

local function profile() return simdevice.profile() end

local function iccid()
    local p = profile()
    return p.iccid or ("8986" .. p.imei:sub(-15) .. "0"):sub(1, 20)
end

local function imsi()
    local p = profile()
    return p.imsi or ("46000" .. p.imei:sub(-10))
end

--- The SIM's ICCID and IMSI, as AT+ICCID / AT+CIMI answer them (for the sim stand-in).
function atc.iccid() return iccid() end
function atc.imsi() return imsi() end

local function reg_state() return registered and 1 or 2 end   -- 2: searching

local CELL = ',"1A2B","0C3D4E5F",7'

-- One command (without its \r) -> the answer lines (final OK/ERROR included).
local function answer(cmd)
    local u = cmd:upper()
    local p = profile()
    if u == "AT" or u == "ATE0" or u == "ATE1" then return { "OK" } end
    if u == "AT+CGSN" or u == "AT+WIMEI?" then
        return { u == "AT+CGSN" and p.imei or ('+WIMEI: "' .. p.imei .. '"'), "OK" }
    end
    if u == "AT+CIMI" then return { imsi(), "OK" } end
    if u == "AT+ICCID" then return { "+ICCID: " .. iccid(), "OK" } end
    if u == "AT+CPIN?" then return { "+CPIN: READY", "OK" } end
    if u == "AT+CSQ" then
        return { registered and "+CSQ: 25,99" or "+CSQ: 99,99", "OK" }
    end
    if u == "AT+CESQ" then return { "+CESQ: 99,99,255,255,30,55", "OK" } end
    if u == "AT+CREG?" or u == "AT+CGREG?" or u == "AT+CEREG?" then
        local head = u:match("^AT(%+%u+)")
        return { head .. ": 2," .. reg_state() .. (registered and CELL or ""), "OK" }
    end
    if u == "AT+CGATT?" then return { "+CGATT: " .. (registered and 1 or 0), "OK" } end
    if u == "AT+COPS?" then
        return { registered and '+COPS: 0,2,"46000",7' or "+COPS: 0", "OK" }
    end
    if u == "AT+CGDCONT?" then
        if not registered then return { "OK" } end
        return { '+CGDCONT: 1,"IP","cmnet","10.0.0.2",0,0,0,0,0,0', "OK" }
    end
    if u == "AT+CGACT?" then return { "+CGACT: 1," .. (registered and 1 or 0), "OK" } end
    if u == "AT+WISN?" then
        return { "+WISN: " .. ((p.sn and p.sn ~= "") and p.sn or "*CALIBINFO*"), "OK" }
    end
    if u == "AT+MUID?" then return { "+MUID: " .. tostring(p.uid), "OK" } end
    if u == "AT+VER" then return { "+VER: " .. tostring(rtos.get_version()), "OK" } end
    if u == "AT+CFUN?" then return { "+CFUN: 1", "OK" } end
    if u == "AT+SIMCROSS?" then return { "+SIMCROSS: 0", "OK" } end   -- SIM slot 0
    if u == "AT+CNUM" then return { "OK" } end                          -- no own number stored
    if u == "AT+CALIBINFO?" then return { "+CALIBINFO: 1", "OK" } end
    if u == "AT*BAND?" then return { "*BAND: 15,0,0,1,1", "OK" } end
    if u:match("^AT%+CGSN=") or u:match("^AT%+WIMEI=") or u:match("^AT%+WISN=") then
        return { "ERROR" }   -- the factory's identity is not writable here
    end
    if not u:match("^AT") then return { "ERROR" } end
    return { "OK" }
end

local function send_lines(lines)
    deliver("\r\n" .. table.concat(lines, "\r\n\r\n") .. "\r\n")
end

--- The simulated network came up (or went down).
function atc.network(up)
    up = up and true or false
    if up == registered then return end
    registered = up
    if up then
        send_lines({ "^MODE: 17,17", "+CEREG: 1" .. CELL })
    else
        send_lines({ "+CEREG: 2" })
    end
end

--- uart.setup(uart.ATC, ...): the channel opens; the radio says it is ready.
function atc.setup()
    if open then return 0 end
    open = true
    send_lines({ "RDY", "+CPIN: READY" })
    if simdevice.network_up() then
        registered = false
        atc.network(true)
    end
    return 0
end

--- uart.write(uart.ATC, ...): commands end with \r; each is answered.
function atc.write(...)
    local n = 0
    for i = 1, select("#", ...) do
        local s = tostring((select(i, ...)))
        n = n + #s
        cmdbuf = cmdbuf .. s
    end
    while true do
        local cmd, rest = cmdbuf:match("^([^\r]*)\r\n?(.*)$")
        if not cmd then break end
        cmdbuf = rest
        cmd = cmd:gsub("^%s+", ""):gsub("%s+$", "")
        if cmd ~= "" then send_lines(answer(cmd)) end
    end
    if on_sent then simbus.post(0, on_sent, atc.ID) end
    return n
end

--- uart.read(uart.ATC, fmt): "*l" one line (with its \r\n), a number that
-- many bytes, else all; "" when nothing is waiting.
function atc.read(fmt)
    local out
    if fmt == "*l" then
        local e = rx:find("\n", 1, true)
        out = e and rx:sub(1, e) or rx
    elseif math.tointeger(fmt) then
        out = rx:sub(1, math.tointeger(fmt))
    else
        out = rx
    end
    rx = rx:sub(#out + 1)
    return out
end

function atc.on(event, fn)
    if event == "receive" then on_receive = fn elseif event == "sent" then on_sent = fn end
end

function atc.is_open() return open end

function atc.close() open = false; rx = "" end

return atc
