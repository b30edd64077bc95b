--- rtos.fota_start / fota_process / fota_end: the Air724 firmware's upgrade
-- natives, through which LuatOS-Air's own lib/update.lua streams the package
-- it downloads (with Range, so a retry goes on where it stopped):
--   fota_start() -> 0: a new upgrade begins; what an earlier one staged is dropped;
--   fota_process(data, total) -> 0: data is the package's next bytes (non-zero
--     when no upgrade was started);
--   fota_end() -> 0 when the package is whole and passes fota.verify (project,
--     bsp, signature, not the running release, the delta's base): it is then
--     staged as /luazip/update.bin, which the next boot applies (fota.verify
--     and fota.commit, power-cut safe). Else non-zero, the reason logged once
--     and the partial package dropped. update.lua calls fota_end after a
--     refusal too: with nothing received it just ends the upgrade (-1).
-- The bytes go to /luazip/update.bin.part; only a verified package is renamed
-- into place, so a power cut while downloading leaves nothing to apply.
local M = { STAGE = "/luazip/update.bin.part", READY = "/luazip/update.bin" }

function M.install(rtos, fota, bsp)
    local f, received = nil, 0
    function rtos.fota_start()
        if f then f:close() end
        os.remove(M.STAGE)
        f = io.open(M.STAGE, "wb")
        received = 0
        if not f then
            log.error("rtos.fota_start", "cannot open " .. M.STAGE)
            return -1
        end
        return 0
    end
    function rtos.fota_process(data, _total)
        if type(data) ~= "string" then
            error("bad argument #1 to 'fota_process' (string expected, got " .. type(data) .. ")", 2)
        end
        if not f then return -1 end
        if not f:write(data) then return -1 end
        received = received + #data
        return 0
    end
    function rtos.fota_end()
        if not f then return -1 end
        f:close()
        f = nil
        if received == 0 then
            os.remove(M.STAGE)
            return -1
        end
        local ok, info, msg = fota.verify({ path = M.STAGE, bsp = bsp })
        if not ok then
            log.warn("rtos.fota_end", "package refused:", info, msg or "")
            os.remove(M.STAGE)
            return -1
        end
        os.remove(M.READY)
        local rok, rerr = os.rename(M.STAGE, M.READY)
        if not rok then
            log.error("rtos.fota_end", "cannot stage the package:", rerr)
            os.remove(M.STAGE)
            return -1
        end
        log.info("rtos.fota_end", "package " .. tostring(info.version or "-") .. " staged, applied at the next boot")
        return 0
    end
end

return M
