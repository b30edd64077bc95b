--- libfota2: LuatOS's FOTA library with an options table.
--   libfota2.request(cb, {url=, version=, timeout=, project_key=, imei=, firmware_name=,
--                         server_cert=, client_cert=, client_key=, client_password=,
--                         method=, headers=, body=, callback=, userdata=,
--                         idle_timeout=, min_rate=})   -- ours: see fota.download
-- callback(content_len, body_len, userdata) reports download progress.
-- A url starting with "###" is used as is; otherwise the IoT query is
-- appended, as LuatOS's libfota2 builds it; where LuatOS would run the query
-- into the url (no "?" in it, or no "&" before it) a "?" or "&" is put in. opts is not modified, so the same
-- table can be passed by sys.timerLoopStart again and again.
local sys = require "sys"
local fotaflow = require "fotaflow"

local libfota2 = {}

function libfota2.request(cbFnc, opts)
    opts = opts or {}
    cbFnc = cbFnc or function() end
    local url = opts.url
    if url ~= nil and type(url) ~= "string" then
        log.error("fota", "bad url", tostring(url))
        return cbFnc(2)
    end
    if url and url:sub(1, 3) == "###" then
        url = url:sub(4)
    else
        local query, err = fotaflow.iot_query(opts, "libfota2")
        if not query then
            log.error("fota", err)
            return cbFnc(5)
        end
        url = fotaflow.with_query(url or fotaflow.iot_url(), query)
    end
    sys.taskInit(fotaflow.run, cbFnc, {
        url = url, method = opts.method, headers = opts.headers, body = opts.body,
        timeout = opts.timeout or 300000, idle_timeout = opts.idle_timeout, min_rate = opts.min_rate,
        server_cert = opts.server_cert, client_cert = opts.client_cert, client_key = opts.client_key,
        client_password = opts.client_password,
        -- LuatOS http's progress callback, which libfota2 passes opts on to
        progress = opts.callback and function(done, total) opts.callback(total or 0, done, opts.userdata) end,
    })
end

return libfota2
