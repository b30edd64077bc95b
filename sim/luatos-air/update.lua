--- update for LuatOS-Air projects: Air's remote upgrade,
--   update.request(cbFnc, url, period, redir)
-- In a task, once the network is up: GET url (default the IoT platform's
-- firmware_upgrade) with ?project_key=PRODUCT_KEY&imei=..&device_key=<sn>&
-- firmware_name=PROJECT_<rtos.get_version()>&version=<VERSION>, plus
-- &need_oss_url=1 with redir; the answer is saved to /luazip/update.bin.
-- 200: cbFnc(true), or without cbFnc the module restarts, and the boot
-- applies /luazip/update.bin (sim/luatos-air/boot.lua). A 3xx with Location
-- is requested again (after 2 s, as Air). Any other answer: the platform's
-- msg is logged, cbFnc(false). A network failure is retried; the third in a
-- row gives cbFnc(false). With period (ms) it asks again every period.
-- LUAT_FOTA_IOT_URL, when set, replaces the platform's address (as for libfota).
-- Arguments given once are kept for later calls, as on Air; a call without
-- period while the task waits out its period asks at once.
local update = {}

update.UPD_FILE_PATH = "/luazip/update.bin"
update.DEFAULT_URL = "iot.openluat.com/api/site/firmware_upgrade"
local REDIRECT_DELAY_MS = 2000
local MAX_REDIRECTS = 5
local NET_TRIES = 3

local cb_fn, base_url, period_ms, redirect
local task, waiting_period, downloading
local seq = 0

local function sys() return rawget(_G, "sys") or require "sys" end

local function escape(s)
    return (tostring(s):gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", c:byte()) end))
end

--- The query url of one request (the platform's parameters in Air's order).
function update.url()
    local misc = require "misc"
    local env = os.getenv("LUAT_FOTA_IOT_URL")   -- as for libfota: the platform's address, for tests
    local url = base_url or (env and env ~= "" and env) or update.DEFAULT_URL
    return url .. "?project_key=" .. escape(rawget(_G, "PRODUCT_KEY") or "") ..
        "&imei=" .. escape(misc.getImei()) .. "&device_key=" .. escape(misc.getSn()) ..
        "&firmware_name=" .. escape(tostring(rawget(_G, "PROJECT")) .. "_" .. rtos.get_version()) ..
        "&version=" .. escape(tostring(rawget(_G, "VERSION"))) .. (redirect and "&need_oss_url=1" or "")
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

local function client()
    local socket = rawget(_G, "socket")
    while not socket.isReady() do sys().waitUntil("IP_READY_IND") end
    while true do
        downloading = true
        local ok = check()
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
