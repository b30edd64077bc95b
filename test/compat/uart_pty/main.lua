-- The fota_uart demo's pattern: a host tool sends the package over UART 1;
-- each piece that arrives is fed to fota.run through a zbuff, and once the
-- package is complete and verified the module reboots into it.
PROJECT = "compat"
VERSION = "1.0.1"

local UART_ID = 1

if VERSION ~= "1.0.1" then
    log.info("compat", "UPGRADED", VERSION, rtos.version())
    return sys.run()
end

local buff = zbuff.create(4096)
local got = 0
fota.init()
uart.setup(UART_ID, 115200, 8, 1)
uart.on(UART_ID, "receive", function(id, len)
    while true do
        local n = uart.rx(id, buff)
        if not n or n == 0 then break end
        got = got + n
        local ok, done, cache = fota.run(buff)
        buff:del()
        if not ok then
            log.info("compat", "fota.run failed", cache)
            uart.close(id)
            return
        end
        if done then
            local succ, complete = fota.isDone()
            log.info("compat", "package complete", succ, complete, got)
            fota.finish(true)
            uart.close(id)
            sys.timerStart(rtos.reboot, 100)
            return
        end
    end
    log.debug("compat", "uart bytes so far", got, len)
end)

sys.run()
