--- fotaflow: what libfota and libfota2 share — the IoT-platform query, one
-- upgrade request run as a task over fota.download, and the mapping of its
-- outcome to LuatOS's callback codes:
-- 0 package staged, 1 connect failed, 2 url error, 3 server closed,
-- 4 receive error / unexpected status / empty body / "no upgrade",
-- 5 PRODUCT_KEY missing or VERSION not x.y.z.
local sys = require "sys"
local version = require "version"

local M = {}

M.IOT_URL = "http://iot.openluat.com/api/site/firmware_upgrade"
M.POLL_MS = 10          -- longest a transfer may hold the scheduler per poll
--- Freshness (docs/security.md): a warning is logged when the last fresh
-- signed answer (fota.state().fresh) is older than this many seconds.
M.FRESH_WARN_S = 3 * 86400

--- The platform's "no upgrade" codes, for logs and scripts.
M.PLATFORM_CODES = {
    [3] = "invalid device", [17] = "no permission",
    [21] = "upgrade between these versions not allowed", [25] = "invalid project",
    [26] = "invalid firmware", [27] = "already latest",
    [40] = "loop upgrade: banned after 6 downloads a day", [43] = "please wait: delta being generated",
    [44] = "base version missing",
}

local function getenv(name) return os.getenv and os.getenv(name) end

--- The platform address (LUAT_FOTA_IOT_URL overrides it, e.g. for loopback tests).
function M.iot_url()
    local u = getenv("LUAT_FOTA_IOT_URL")
    return (u and u ~= "") and u or M.IOT_URL
end

local function escape(s)
    return (tostring(s):gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", c:byte()) end))
end

--- The device id parameter: imei from mobile, else wlan mac, else mcu uid.
function M.device_param(imei)
    if imei then return "imei=" .. escape(imei) end
    local mobile, wlan, mcu = rawget(_G, "mobile"), rawget(_G, "wlan"), rawget(_G, "mcu")
    if mobile and mobile.imei then return "imei=" .. escape(mobile.imei()) end
    if wlan and wlan.getMac then return "mac=" .. escape(wlan.getMac()) end
    return "uid=" .. mcu.unique_id():toHex()
end

--- The IoT platform's query, or nil and why, with LuatOS's parameters in
-- LuatOS's order: libfota's project_key=..&imei=..&device_key=&firmware_name=
-- ..&version=CORE.x.z, or with style "libfota2" imei=..&project_key=..&
-- firmware_name=..&version=... o may override project_key, firmware_name,
-- version and imei.
function M.iot_query(o, style)
    local key = o.project_key or rawget(_G, "PRODUCT_KEY")
    if not key then return nil, "PRODUCT_KEY is missing: define it in main.lua for the IoT platform" end
    local ver = o.version
    if not ver then
        local err
        ver, err = version.iot(rtos.version(), rawget(_G, "VERSION"))
        if not ver then return nil, "VERSION " .. tostring(rawget(_G, "VERSION")) .. ": " .. err end
    end
    local fw = o.firmware_name or (tostring(rawget(_G, "PROJECT")) .. "_LuatOS-SoC_" .. rtos.bsp())
    if style == "libfota2" then
        return string.format("%s&project_key=%s&firmware_name=%s&version=%s",
            M.device_param(o.imei), escape(key), escape(fw), escape(ver))
    end
    return string.format("project_key=%s&%s&device_key=&firmware_name=%s&version=%s",
        escape(key), M.device_param(o.imei), escape(fw), escape(ver))
end

--- Appends a query to a url, adding "?" or "&" as needed.
function M.with_query(url, query)
    if not url:find("?", 1, true) then return url .. "?" .. query end
    if url:match("[?&]$") then return url .. query end
    return url .. "&" .. query
end

local CODE_OF_ERROR = { [-4] = 1, [-10] = 2, [-5] = 3 }

-- Platform answers are JSON {"code": N, "msg": "..."}.
local function platform_answer(body)
    local json = rawget(_G, "json") or require "json"
    local obj = json.decode(body)
    if type(obj) == "table" then return tonumber(obj.code), obj.msg end
end

--- What the running firmware is, for fota.verify: a package for another
-- project or bsp, or older than what runs (anti-rollback), is refused.
function M.verify_opts(extra)
    local v = {
        project = rawget(_G, "PROJECT"), bsp = rtos.bsp(), core = rtos.version(),
        version = version.valid(rawget(_G, "VERSION")) and rawget(_G, "VERSION") or nil,
    }
    for k, val in pairs(extra or {}) do v[k] = val end
    return v
end

-- Checks and records the server's signed freshness statement for this
-- answer (fota.fresh): heard is { code = N } or { sha256 = package hash }.
local function check_fresh(t, url, heard)
    if not fota.fresh then return end
    local value
    for name, v in pairs(t:headers() or {}) do
        if name:lower() == "x-fota-fresh" then value = v end
    end
    local imei, ver = url:match("[?&]imei=([^&]*)"), url:match("[?&]version=([^&]*)")
    if not value or not imei or not ver then return end
    heard.header, heard.imei, heard.version, heard.now = value, imei, ver, os.time()
    local ok, why = fota.fresh(heard)
    if not ok and why ~= "no_key" then log.warn("fota", "answer not fresh:", why) end
end

-- A device that got fresh answers and stopped getting them says so: its
-- server (or a man in the middle) may be freezing it on old answers.
local function warn_if_stale()
    local st = fota.state and fota.state()
    local fresh = type(st) == "table" and st.fresh
    if fresh and os.time() - fresh > M.FRESH_WARN_S then
        log.warn("fota", string.format("no fresh signed answer for %d s (last at %d, limit %d s): "
            .. "the server may be frozen or replaying old answers", os.time() - fresh, fresh, M.FRESH_WARN_S))
    end
end

local function transfer(o)
    if o.show_url ~= false then log.info("fota.url", o.url) end
    local t, err, msg = fota.download({
        url = o.url, method = o.method, headers = o.headers, body = o.body, timeout = o.timeout,
        idle_timeout = o.idle_timeout, min_rate = o.min_rate,
        server_cert = o.server_cert, client_cert = o.client_cert, client_key = o.client_key,
        client_password = o.client_password, path = o.path, max_size = o.max_size,
    })
    if not t then return CODE_OF_ERROR[err] or 4, { error = err, msg = msg } end

    local logged = -1   -- progress is logged at every quarter
    while true do
        local rc, emsg = t:poll(M.POLL_MS)
        if rc < 0 then
            log.warn("fota", "download failed", rc, emsg)
            return CODE_OF_ERROR[rc] or 4, { error = rc, msg = emsg, status = t:status() }
        end
        local done, total = t:progress()
        if o.progress then o.progress(done, total) end
        local status = t:status()
        if status and status < 300 and total and total > 0 and done * 4 // total > logged then
            logged = done * 4 // total
            log.info("fota", string.format("download %d/%d bytes (%d%%)", done, total, done * 100 // total))
        end
        if rc == 0 then break end
        sys.wait(1)   -- let timers and other tasks run
    end

    local status = t:status()
    local info = { status = status }
    if status == 200 or status == 206 then
        local size = t:progress()
        info.size, info.resumed = size, t:resumed()
        log.info("fota", string.format("download %d bytes done%s", size,
            info.resumed > 0 and (" (resumed at " .. info.resumed .. ")") or ""))
        -- The package is checked and committed where it was staged.
        local vopts = M.verify_opts(o.verify)
        vopts.path = o.path
        if fota.verify then
            local ok, reason, vmsg = fota.verify(vopts)
            if not ok then
                fota.finish(false)
                log.error("fota", "package refused:", reason, vmsg)
                info.error, info.reason, info.msg = "verify", reason, vmsg
                return 4, info
            end
            pcall(check_fresh, t, o.url, { sha256 = reason.sha256 })   -- never breaks an upgrade
        end
        local ok, ferr = fota.finish(true)
        if not ok then
            info.error, info.msg = "finish", ferr
            return 4, info
        end
        -- Into the inactive slots now; the reboot switches to them.
        if fota.commit then
            local cok, reason, cmsg = fota.commit(vopts)
            if not cok then
                log.error("fota", "commit failed:", reason, cmsg)
                info.error, info.reason, info.msg = "commit", reason, cmsg
                return 4, info
            end
        end
        return 0, info
    end
    info.body = t:body()
    info.code, info.msg = platform_answer(info.body)
    if info.code then pcall(check_fresh, t, o.url, { code = info.code }) end
    log.info("fota", "no upgrade: status", status, "code", info.code,
        M.PLATFORM_CODES[info.code] or info.msg or "")
    return 4, info
end

local busy = false

--- Run one request (inside a task) and call cb(code, info). A second request
-- while one runs waits for it, up to its own timeout.
function M.run(cb, o)
    cb = cb or function() end
    local deadline = mcu.ticks() + (o.timeout or 180000)
    while busy do
        local left = deadline - mcu.ticks()
        if left < 1 or not sys.waitUntil("LIBFOTA_IDLE", left) then
            return cb(4, { error = -1, msg = "another upgrade request is still running" })
        end
    end
    busy = true
    local ok, code, info = pcall(transfer, o)
    busy = false
    sys.publish("LIBFOTA_IDLE")
    if not ok then error(code, 0) end
    warn_if_stale()
    log.info("fota", "result", code)
    return cb(code, info)
end

return M
