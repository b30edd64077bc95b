--- uart: LuatOS's uart API on the desktop, each UART a pseudo-terminal
-- (fota.uart, the port layer's pty). uart.setup(id, ...) opens the pty and
-- prints its path ("uart 1 is /dev/pts/5") so a host tool can open it as a
-- serial port and feed bytes the way a fota_uart demo expects; baud rate,
-- bits and parity are accepted and mean nothing on a pty.
--
-- While a "receive" callback is set, a 10 ms sys timer polls the pty and
-- calls it with (id, bytes waiting), as a module's UART interrupt does; so,
-- as on a module, sys.run() goes on until the UART is closed or the script
-- reboots. Writes are queued and flushed by the same poll when the pty is
-- full; "sent" is called once a write has all gone out.
local pty = require "fota.uart"

local uart = { NONE = 0, ODD = 1, EVEN = 2, LSB = 0, MSB = 1, VUART_0 = 32, POLL_MS = 10 }

local RX_MAX = 64 * 1024    -- bytes kept unread, as a module's receive buffer (older ones dropped)
local ports = {}            -- id -> { port, path, rx, tx, on = {}, timer }

--- How setup tells the user where the UART is (replace to send it elsewhere).
function uart.announce(id, path)
    io.stderr:write(string.format("luatos-sim: uart %d is %s\n", id, path))
end

local function id_arg(id, fn)
    if math.type(id) ~= "integer" then
        error(string.format("bad argument #1 to '%s' (number expected, got %s)", fn,
            id == nil and "no value" or type(id)), 3)
    end
    return id
end

local function sys() return _G.sys or require "sys" end

local function pump(id, p)
    local got = p.port:read()
    if got and got ~= "" then
        p.rx = p.rx .. got
        if #p.rx > RX_MAX then p.rx = p.rx:sub(-RX_MAX) end
    end
    if p.tx ~= "" then
        local n = p.port:write(p.tx) or 0
        p.tx = p.tx:sub(n + 1)
        if p.tx == "" and p.on.sent then p.on.sent(id) end
    end
    return got and #got or 0
end

local function poll(id)
    local p = ports[id]
    if not p then return end
    local fresh = pump(id, p)
    if fresh > 0 and #p.rx > 0 and p.on.receive then p.on.receive(id, #p.rx) end
end

local function update_timer(id, p)
    local want = p.on.receive ~= nil or p.tx ~= ""
    if want and not p.timer then
        p.timer = sys().timerLoopStart(poll, uart.POLL_MS, id)
    elseif not want and p.timer then
        sys().timerStop(p.timer)
        p.timer = nil
    end
end

--- uart.setup(id, baud, ...) -> 0 on success, -1 when no pty can be opened.
function uart.setup(id)
    id = id_arg(id, "setup")
    if ports[id] then uart.close(id) end
    local port, path = pty.open()
    if not port then return -1 end
    ports[id] = { port = port, path = path, rx = "", tx = "", on = {} }
    uart.announce(id, path)
    return 0
end

--- uart.path(id) -> the pty a host tool opens (ours, not LuatOS's).
function uart.path(id)
    local p = ports[id_arg(id, "path")]
    return p and p.path
end

--- uart.write(id, str | zbuff) -> bytes queued (0 when the UART is not set up).
function uart.write(id, data)
    id = id_arg(id, "write")
    local p = ports[id]
    if type(data) == "userdata" and data.toStr then data = data:toStr(0, data:used()) end
    if type(data) == "number" then data = tostring(data) end
    if type(data) ~= "string" then
        error("bad argument #2 to 'write' (string or zbuff expected, got " .. type(data) .. ")", 2)
    end
    if not p then return 0 end
    p.tx = p.tx .. data
    pump(id, p)
    update_timer(id, p)
    return #data
end

--- uart.read(id[, len]) -> up to len (default 1024) received bytes, "" when none.
function uart.read(id, len)
    id = id_arg(id, "read")
    if len ~= nil and math.type(len) ~= "integer" then
        error("bad argument #2 to 'read' (number expected, got " .. type(len) .. ")", 2)
    end
    local p = ports[id]
    if not p then return "" end
    pump(id, p)
    len = math.max(0, len or 1024)
    local out = p.rx:sub(1, len)
    p.rx = p.rx:sub(len + 1)
    return out
end

--- uart.rx(id, zbuff) -> bytes moved from the UART into the zbuff at its cursor.
function uart.rx(id, buff)
    id = id_arg(id, "rx")
    if type(buff) ~= "userdata" or not buff.write then
        error("bad argument #2 to 'rx' (zbuff expected, got " .. type(buff) .. ")", 2)
    end
    local p = ports[id]
    if not p then return 0 end
    pump(id, p)
    local n = buff:write(p.rx:sub(1, buff:len() - buff:used()))
    p.rx = p.rx:sub(n + 1)
    return n
end

--- uart.rxSize(id) -> bytes received and not read yet.
function uart.rxSize(id)
    local p = ports[id_arg(id, "rxSize")]
    if not p then return 0 end
    pump(id, p)
    return #p.rx
end

--- uart.on(id, "receive" | "sent", fn | nil)
function uart.on(id, event, fn)
    id = id_arg(id, "on")
    if event ~= "receive" and event ~= "sent" then
        error("bad argument #2 to 'on' ('receive' or 'sent' expected)", 2)
    end
    if fn ~= nil and type(fn) ~= "function" then
        error("bad argument #3 to 'on' (function expected, got " .. type(fn) .. ")", 2)
    end
    local p = ports[id]
    if not p then return end
    p.on[event] = fn
    update_timer(id, p)
end

--- uart.close(id): the pty goes; a host tool reading it sees the end.
function uart.close(id)
    id = id_arg(id, "close")
    local p = ports[id]
    if not p then return end
    p.on, p.tx = {}, ""
    update_timer(id, p)
    p.port:close()
    ports[id] = nil
end

--- uart.exist(id) -> true for a set-up UART.
function uart.exist(id) return ports[id_arg(id, "exist")] ~= nil end

return uart
