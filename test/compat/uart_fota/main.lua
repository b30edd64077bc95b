-- LuatOS fota module docs style: the package arrives in pieces (here read
-- from the module's file system as if from a UART) and is fed to fota.run
-- through a zbuff.
PROJECT = "compat"
VERSION = "1.0.1"

local sys = require "sys"

sys.taskInit(function()
    if VERSION ~= "1.0.1" then
        log.info("compat", "UPGRADED", VERSION, rtos.version())
        return
    end
    local f = io.open("/update.fota", "rb")
    if not f then
        log.info("compat", "no package")
        return
    end
    local buff = zbuff.create(4096)
    fota.init()
    while true do
        local piece = f:read(1000 + math.random(0, 3000))
        if not piece then break end
        buff:write(piece)
        local result, isDone, cache = fota.run(buff)
        buff:del()   -- as the docs say: clear the zbuff after a write
        if not result then
            log.info("compat", "fota.run failed", cache)
            break
        end
        if isDone then
            while true do
                local succ, fotaDone = fota.isDone()
                if not succ then
                    log.info("compat", "isDone failed")
                    break
                end
                if fotaDone then
                    log.info("compat", "package complete")
                    fota.finish(true)
                    rtos.reboot()
                end
                sys.wait(100)
            end
            break
        end
        sys.wait(5)
    end
    f:close()
end)

sys.run()
