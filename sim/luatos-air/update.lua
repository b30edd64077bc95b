--- update for LuatOS-Air projects: Air's remote upgrade,
--   update.request(cbFnc, url, period, redir)
-- as the library of the module's generation does it (the device's bsp
-- decides: RDA8955, Air202/Air208/Air800, is the 2G library's; any other,
-- the default Air724UG's RDA8910 among them, the Air724 library's).
-- In a task, once the network is up, GET url (default the IoT platform's
-- firmware_upgrade) with the library's query:
--   Air724: ?project_key=PRODUCT_KEY&imei=..&firmware_name=PROJECT_Luat_<bsp>
--     &core_version=<core>&dfota=1&version=<VERSION>[&need_oss_url=1] (the
--     library also sends Range: bytes=<received>-; here every request is a
--     whole download, see check_724). update.request starts an upgrade
--     (rtos.fota_start; when that fails it only logs). The body of a 200/206
--     goes through rtos.fota_process as it comes; then rtos.fota_end stages
--     it (sim/luatos-air/airfota.lua), and the next boot applies it. 43 (the
--     platform is building the package): wait 30 s (the simulator's
--     LUAT_FOTA_AIR_WAIT_MS, for tests, replaces it) and ask again within
--     the same request, at most MAX_43 times; a network failure is asked
--     again at once, MAX_NET_724 times in a row. cbFnc(true) only when
--     fota_end staged the package (the library reports true whatever
--     fota_end said; a refused package does not restart the module here).
--   2G: ?project_key=..&imei=..&device_key=<sn>&firmware_name=
--     PROJECT_<rtos.get_version()>&version=<VERSION>[&need_oss_url=1]; the
--     answer saved to /luazip/update.bin, which the boot applies; a network
--     failure is retried, the third in a row gives cbFnc(false); 43 is a
--     refusal like any other.
-- 200: cbFnc(true), or without cbFnc the module restarts. A 3xx with Location
-- is requested again (after 2 s, as Air). Any other answer: the platform's
-- msg is logged (update.error <status> <msg>), cbFnc(false). With period
-- (ms) it asks again every period.
-- LUAT_FOTA_IOT_URL, when set, replaces the platform's address (as for libfota).
-- Arguments given once are kept for later calls, as on Air; a call without
-- period while the task waits out its period asks at once.
local update = {}

update.UPD_FILE_PATH = "/luazip/update.bin"
update.DEFAULT_URL = "iot.openluat.com/api/site/firmware_upgrade"
local REDIRECT_DELAY_MS = 2000
local MAX_REDIRECTS = 5
local NET_TRIES = 3
local MAX_NET_724 = 30
local MAX_43 = 30
local WAIT_43_MS = 30000

local cb_fn, base_url, period_ms, redirect
local task, waiting_period, downloading
local seq = 0

local function sys() return rawget(_G, "sys") or require "sys" end

local function escape(s)
    return (tostring(s):gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", c:byte()) end))
end

--- "724" or "2g": the library of the device's generation.
function update.library()
    local bsp = tostring(require("simdevice").profile().bsp)
    return bsp:match("8955") and "2g" or "724"
end

--- The query url of one request (the platform's parameters in the library's order).
function update.url()
    local misc = require "misc"
    local env = os.getenv("LUAT_FOTA_IOT_URL")   -- as for libfota: the platform's address, for tests
    local url = base_url or (env and env ~= "" and env) or update.DEFAULT_URL
    local core = rtos.get_version()
    local query
    if update.library() == "724" then
        -- "Luat_V1103_RDA8910": the core out of the name, as a number
        local name1, name2 = core:match("^(.-)_V%d+(_.+)$")
        query = "?project_key=" .. escape(rawget(_G, "PRODUCT_KEY") or "") .. "&imei=" .. escape(misc.getImei()) ..
            "&firmware_name=" .. escape(tostring(rawget(_G, "PROJECT")) .. "_" .. (name1 or "") .. (name2 or "")) ..
            "&core_version=" .. tostring(tonumber(core:match("_V(%d+)") or "")) .. "&dfota=1"
    else
        query = "?project_key=" .. escape(rawget(_G, "PRODUCT_KEY") or "") ..
            "&imei=" .. escape(misc.getImei()) .. "&device_key=" .. escape(misc.getSn()) ..
            "&firmware_name=" .. escape(tostring(rawget(_G, "PROJECT")) .. "_" .. core)
    end
    return url .. query .. "&version=" .. escape(tostring(rawget(_G, "VERSION"))) ..
        (redirect and "&need_oss_url=1" or "")
end

-- The platform's refusal: {"code":N,"msg":"..."} (msg often \u-escaped).
local function log_refusal(status)
    local path = update.UPD_FILE_PATH
    local size = io.fileSize(path)
    local msg
    if size > 0 and size <= 1024 then
        local obj = json.decode(io.readFile(path) or "")
        if type(obj) == "table" and type(obj.msg) == "string" then msg = obj.msg end
    end
    log.warn("update.error", status, msg or "")
end

-- A Location relative to the server ("/pkg") is that server's.
local function resolve(location, url)
    if location:match("^%a+://") or location:sub(1, 1) ~= "/" then return location end
    local origin = url:match("^(%a+://[^/?#]+)") or ("http://" .. (url:match("^([^/?#]+)") or ""))
    return origin .. location
end

local function download(url)
    os.remove(update.UPD_FILE_PATH)
    seq = seq + 1
    local id = "UPDATE_DOWNLOAD_" .. seq
    require("http").request("GET", url, nil, nil, nil, 60000, function(result, prompt, head)
        sys().publish(id, result, prompt, head)
    end, update.UPD_FILE_PATH)
    local _, result, prompt, head = sys().waitUntil(id)
    log.info("update.download", result, prompt)
    return result, prompt, head
end

-- One check: true/false for cbFnc.
local function check()
    local url, redirects, failures = update.url(), 0, 0
    while true do
        local result, status, head = download(url)
        if result and status == "200" then return true end
        local location = head and (head.Location or head.location)
        if result and status:sub(1, 1) == "3" and location and redirects < MAX_REDIRECTS then
            redirects = redirects + 1
            log.info("update.redirect", location)
            url = resolve(location, url)
            sys().wait(REDIRECT_DELAY_MS)
        elseif result then
            log_refusal(status)
            os.remove(update.UPD_FILE_PATH)
            return false
        else
            os.remove(update.UPD_FILE_PATH)
            failures = failures + 1
            if failures == NET_TRIES then
                log.warn("update.error", "network failed " .. NET_TRIES .. " times:", status)
                return false
            end
        end
    end
end

-- {"code":N,"msg":"..."} of a refusal: the code and the msg (nil when not JSON).
local function platform_answer(body)
    local obj = #body <= 1024 and json.decode(body)
    if type(obj) ~= "table" then return nil end
    return math.tointeger(obj.code) or tonumber(obj.code), type(obj.msg) == "string" and obj.msg or nil
end

local function wait_43_ms()
    return math.tointeger(tonumber(os.getenv("LUAT_FOTA_AIR_WAIT_MS") or "")) or WAIT_43_MS
end

-- One check as the Air724 library: true/false for cbFnc. The upgrade was
-- started (rtos.fota_start); it is ended here.
local function check_724()
    local location, net_failures, waits, redirects = nil, 0, 0, 0
    while true do
        local url = location or update.url()
        local refusal, fota_failed = nil, false
        seq = seq + 1
        local id = "UPDATE_DOWNLOAD_" .. seq
        -- no Range here: the simulator's http (the fota module's client) keeps Range to itself, and a
        -- body is only handed over whole, so every request starts at byte 0 (the library's first does too)
        require("http").request("GET", url, nil, nil, nil, 60000,
            function(result, prompt, head) sys().publish(id, result, prompt, head) end,
            function(data, total, status)
                if status == "200" or status == "206" then
                    if fota_failed then return false end
                    if rtos.fota_process(data, total) ~= 0 then
                        log.error("update.processOta", "fail")
                        fota_failed = true
                        return false   -- stop reading a package the upgrade refused
                    end
                elseif status:sub(1, 1) ~= "3" then
                    refusal = data
                end
            end)
        local _, result, status, head = sys().waitUntil(id)
        log.info("update.download", result, status)
        local code, msg
        if refusal then code, msg = platform_answer(refusal) end
        local loc = head and (head.Location or head.location)
        if fota_failed then   -- refused while it came (the running release, or a write failed)
            rtos.fota_end()
            return false
        elseif result and (status == "200" or status == "206") then
            return rtos.fota_end() == 0
        elseif result and status:sub(1, 1) == "3" and loc and redirects < MAX_REDIRECTS then
            redirects = redirects + 1
            log.info("update.redirect", loc)
            location = resolve(loc, url)
            sys().wait(REDIRECT_DELAY_MS)
        elseif result and code == 43 and waits < MAX_43 then
            waits = waits + 1
            log.info("update.wait", "the server is building the package (43): asking again in", wait_43_ms(), "ms")
            sys().wait(wait_43_ms())
        elseif result then
            log.warn("update.error", status, msg or "")
            rtos.fota_end()
            return false
        else
            net_failures = net_failures + 1
            if net_failures == MAX_NET_724 then
                log.warn("update.error", "network failed " .. MAX_NET_724 .. " times:", status)
                rtos.fota_end()
                return false
            end
        end
    end
end

-- Starts an upgrade (the Air724 library's rtos.fota_start): false when it cannot.
local function fota_start()
    if update.library() ~= "724" then return true end
    if rtos.fota_start() ~= 0 then
        log.error("update.request", "fota_start fail")
        return false
    end
    return true
end

local function client()
    local socket = rawget(_G, "socket")
    while not socket.isReady() do sys().waitUntil("IP_READY_IND") end
    while true do
        downloading = true
        local ok = (update.library() == "724" and check_724 or check)()
        downloading = false
        if ok and not cb_fn then
            sys().restart("UPDATE_DOWNLOAD_SUCCESS")
            return
        end
        if cb_fn then cb_fn(ok) end
        if not period_ms then return end
        waiting_period = true
        sys().wait(period_ms)
        waiting_period = false
        if not fota_start() then return end
    end
end

function update.request(cbFnc, url, period, redir)
    if cbFnc ~= nil and type(cbFnc) ~= "function" then
        error("bad argument #1 to 'request' (function expected, got " .. type(cbFnc) .. ")", 2)
    end
    if url ~= nil and type(url) ~= "string" then
        error("bad argument #2 to 'request' (string expected, got " .. type(url) .. ")", 2)
    end
    if period ~= nil and not math.tointeger(period) then
        error("bad argument #3 to 'request' (integer expected, got " .. type(period) .. ")", 2)
    end
    if not (waiting_period and period == nil) and not downloading and not fota_start() then return end
    cb_fn, base_url, period_ms = cbFnc or cb_fn, url or base_url, period or period_ms
    redirect = redirect or redir and true or false
    log.info("update.request", cb_fn, base_url, period_ms, redirect)
    if not task or coroutine.status(task) == "dead" then
        task = sys().taskInit(client)
    elseif period == nil and waiting_period and coroutine.status(task) == "suspended" then
        sys().coresume(task, "update.request")   -- ends its sys.wait(period) early
    end
end

--- true while a check is running.
function update.isDownloading() return downloading == true end

_G.update = update
return update
