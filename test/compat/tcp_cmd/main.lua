-- A FOTA project with its own TCP control channel, written as LuatOS's
-- socket demos are: a task made with sys.taskInitEx, libnet to connect, send
-- and wait, socket.rx into a zbuff. It says HELLO with its version; the line
-- "UPGRADE <url>" from the server starts libfota.request, and a committed
-- package is run by rebooting into it.
PROJECT = "compat"
VERSION = "1.0.1"

-- luacheck: globals libnet
libnet = require "libnet"   -- a global, as in LuatOS's demos
local libfota = require "libfota"

local host = "127.0.0.1"
local port = tonumber(os.getenv("COMPAT_TCP_PORT") or "") or 9000
local taskName = "ctrl"

-- messages libnet did not wait for
local function netCB(msg)
    log.info("ctrl", "unhandled", msg[1], msg[2])
end

local function fota_cb(result)
    log.info("fota", "result", result)
    if result == 0 then rtos.reboot() end
end

local function ctrlTask()
    sys.waitUntil("IP_READY")
    if VERSION ~= "1.0.1" then log.info("compat", "UPGRADED", VERSION, rtos.version()) end
    local rxbuf = zbuff.create(64)
    local netc = socket.create(nil, taskName)
    socket.config(netc, nil, nil, nil, 300, 5, 6)
    if not libnet.connect(taskName, 5000, netc, host, port) then
        log.info("ctrl", "connect failed")
        socket.release(netc)
        return
    end
    log.info("ctrl", "connected", socket.state(netc))
    libnet.tx(taskName, 5000, netc, "HELLO " .. VERSION .. " " .. mobile.imei() .. "\n")
    local pending = ""
    while true do
        local succ = socket.rx(netc, rxbuf)
        if not succ then break end
        if rxbuf:used() > 0 then
            pending = pending .. rxbuf:toStr(0, rxbuf:used())
            rxbuf:del()
            for line in pending:gmatch("([^\n]*)\n") do
                local url = line:match("^UPGRADE (%S+)")
                if url then
                    log.info("ctrl", "upgrade command", url)
                    libnet.tx(taskName, 5000, netc, "OK\n")
                    libfota.request(fota_cb, url)
                end
            end
            pending = pending:match("([^\n]*)$")
        end
        if not libnet.wait(taskName, 60000, netc) then break end
    end
    log.info("ctrl", "server closed")
    libnet.close(taskName, 2000, netc)
    socket.release(netc)
end

sys.taskInitEx(ctrlTask, taskName, netCB)

sys.run()
