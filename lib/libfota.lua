--- libfota: LuatOS's FOTA library, same arguments and callback codes.
--   libfota.request(cb, url)                       -- a self-built server
--   libfota.request(cb)                            -- the IoT platform (PRODUCT_KEY, VERSION x.y.z)
--   sys.timerLoopStart(libfota.request, ms, cb, url)
-- cb(code, info): code 0..5 as on LuatOS; info (ours) tells more: for a
-- "no upgrade" answer (code 4) info.status, and info.code/info.msg when the
-- server sent the platform's JSON (27 = already latest).
local sys = require "sys"
local fotaflow = require "fotaflow"

local libfota = {}

-- Puts ota_port into a url that names none.
local function with_port(url, port)
    local scheme, host, rest = url:match("^(https?://)([^/:?#]+)(.*)$")
    if not scheme or rest:sub(1, 1) == ":" then return url end
    return scheme .. host .. ":" .. math.tointeger(port) .. rest
end

local function task(cbFnc, ota_url, storge_location, len, _, ota_port, libfota_timeout,
                    server_cert, client_cert, client_key, client_password, show_otaurl)
    cbFnc = cbFnc or function() end
    local url = ota_url
    if url == nil then
        local query, err = fotaflow.iot_query({})
        if not query then
            log.error("fota", err)
            return cbFnc(5)
        end
        url = fotaflow.with_query(fotaflow.iot_url(), query)
    elseif type(url) ~= "string" or not url:match("^https?://[^/]") then
        log.error("fota", "bad url", tostring(url))
        return cbFnc(2)
    end
    if ota_port then url = with_port(url, ota_port) end
    fotaflow.run(cbFnc, {
        url = url, timeout = libfota_timeout or 180000,
        path = type(storge_location) == "string" and storge_location or nil,
        max_size = (len and len > 0) and len or nil,
        server_cert = server_cert, client_cert = client_cert, client_key = client_key,
        client_password = client_password, show_url = show_otaurl,
    })
end

function libfota.request(cbFnc, ota_url, storge_location, len, param1, ota_port, libfota_timeout,
                         server_cert, client_cert, client_key, client_password, show_otaurl)
    sys.taskInit(task, cbFnc, ota_url, storge_location, len, param1, ota_port, libfota_timeout,
        server_cert, client_cert, client_key, client_password, show_otaurl)
end

return libfota
