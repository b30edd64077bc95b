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
-- No second download of what runs: once the package's header is in
-- (docs/package-format.md: prefix, meta_len, metadata), a package whose
-- release (release_core, release_script) is the running one, without the
-- reinstall flag, is refused there (fota_process non-zero, logged once per
-- upgrade): the downloader stops reading it. fota_end's fota.verify stays
-- the judge; this refuses only what it would refuse (same_release).
local M = { STAGE = "/luazip/update.bin.part", READY = "/luazip/update.bin" }

local HEADER_LEN, MAX_META = 16, 1024

--- The release the package header in head names: core (number), script
-- (x.y.z), reinstall (bool); nil while head is too short, false when it is
-- not a package header (fota.verify will say why).
function M.header_release(head)
    if #head < HEADER_LEN then return nil end
    if head:sub(1, 4) ~= "LFPK" then return false end
    local meta_len = string.unpack("<I2", head, 13)
    if meta_len > MAX_META then return false end
    if #head < HEADER_LEN + meta_len then return nil end
    local meta, at = head:sub(HEADER_LEN + 1, HEADER_LEN + meta_len), 1
    local ok, core, script, flags = pcall(function()
        for _ = 1, 3 do at = at + 1 + meta:byte(at) end   -- project, firmware, bsp
        at = at + 4 + 32                                  -- from_core_version, base_sha256
        local rc, rs
        rc, rs, at = string.unpack("<I4s1", meta, at)
        return rc, rs, meta:byte(at)
    end)
    if not ok or not flags then return false end
    return { core = core, script = script, reinstall = flags & 1 == 1 }
end

-- Power cuts for tests (LUAT_FOTA_AIR_CUT=<write>:<n>): the power is cut
-- (the process exits as the port's injected cut does) just before the n-th
-- write of that kind, once per device (a marker in its file system):
-- open (fota_start's new .part), process (a fota_process write), close,
-- drop (fota_end removing an older /luazip/update.bin), rename (fota_end
-- putting the verified package in place).
local function cut_before(kind)
    local plan = os.getenv("LUAT_FOTA_AIR_CUT")
    if not plan or plan == "" then return end
    local want, n = plan:match("^(%a+):(%d+)$")
    if want ~= kind then return end
    M.cuts = M.cuts or {}
    M.cuts[kind] = (M.cuts[kind] or 0) + 1
    if M.cuts[kind] ~= tonumber(n) then return end
    local marker = "/luazip/.air_cut_done"
    local done = io.open(marker, "rb")
    if done then done:close() return end
    local f = assert(io.open(marker, "wb"))
    f:close()
    io.stdout:write("power cut before the Air upgrade's ", kind, " write ", n, "\n")
    io.stdout:flush()
    os.exit(require("simdevice").POWERCUT_EXIT, false)
end

-- The running release (fota.state): core number and script version.
local function running(fota)
    local st = fota.state()
    local r = st and st.running
    return r and tonumber(tostring(r.core):match("%d+")), r and r.version
end

function M.install(rtos, fota, bsp)
    local f, received, head = nil, 0, ""
    function rtos.fota_start()
        head = ""
        if f then f:close() end
        cut_before("open")
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
        if head then   -- until the header is in: is it the running release?
            head = head .. data:sub(1, HEADER_LEN + MAX_META - #head)
            local rel = M.header_release(head)
            if rel ~= nil then head = nil end
            local core, script = running(fota)
            if rel and not rel.reinstall and rel.core == core and rel.script == script then
                log.warn("rtos.fota_process", "package refused: same_release (V" .. core .. " " .. script ..
                    " runs already), not downloaded further")
                f:close()
                f = nil
                os.remove(M.STAGE)
                return -1
            end
        end
        cut_before("process")
        if not f:write(data) then return -1 end
        received = received + #data
        return 0
    end
    function rtos.fota_end()
        if not f then return -1 end
        cut_before("close")
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
        cut_before("drop")
        os.remove(M.READY)
        cut_before("rename")
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
