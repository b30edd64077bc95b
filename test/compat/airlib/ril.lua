-- AT over uart.ATC as LuatOS-Air's ril.lua drives it: write "CMD\r", read
-- lines on MSG_UART_RXDATA, URCs told apart by their prefix.
module(..., package.seeall)
local write, read = uart.write, uart.read
local pending, queue, urcs, ready = nil, {}, {}, false
local function send()
    if ready and not pending and #queue > 0 then
        pending = table.remove(queue, 1)
        write(uart.ATC, pending.cmd .. "\r")
    end
end
function request(cmd, cb) table.insert(queue, { cmd = cmd, cb = cb, lines = {} }); send() end
function regUrc(prefix, fn) urcs[prefix] = fn end
rtos.on(rtos.MSG_UART_RXDATA, function(id)
    assert(id == uart.ATC)
    while true do
        local s = read(uart.ATC, "*l", 0)
        if s == "" then break end
        s = s:trim()
        if s == "RDY" then ready = true
        elseif s == "OK" or s == "ERROR" then
            local p = pending; pending = nil
            if p.cb then p.cb(p.cmd, s == "OK", table.getn(p.lines) > 0 and p.lines[1] or nil) end
        elseif s ~= "" then
            -- a URC may come while a command is pending: a registered prefix the command does not
            -- ask about, or a "^" line (no command here answers with one), is one
            local prefix = s:match("^([%+%^][%u]+)")
            local urc = prefix and (prefix:sub(1, 1) == "^" or
                (urcs[prefix] and not (pending and pending.cmd:find(prefix, 1, true))))
            if pending and not urc then table.insert(pending.lines, s)
            elseif prefix and urcs[prefix] then urcs[prefix](s) end
        end
    end
    send()
end)
