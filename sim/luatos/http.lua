--- http: LuatOS's http.request on the desktop, over the fota module's HTTP
-- client (the same C code as libfota). Results as on a module:
--   local code, headers, body = http.request("GET", url, headers, body, opts,
--       server_cert, client_cert, client_key, client_password).wait()
-- code is the HTTP status, or (alone) a negative error: -1 bad request/state,
-- -2 header, -3 body, -4 connect failed or a url it cannot use, -5 closed
-- early, -6 receive, -7 file write, -8 timeout, -9 fota (package invalid, or a
-- non-2xx answer in fota mode, with that answer's body). body may be a
-- zbuff: POST and PUT send its written bytes, other methods receive the
-- answer into it; body is then the answer's length. In fota mode a resumed
-- download (206) is reported as 200.
-- opts: timeout (ms; < 1000 = default 60 s, 10 min with dst, 20 min with
-- fota), dst (save the body to a file: body = its size; a non-2xx answer
-- leaves no file, body = its length), fota (stream the body
-- into the staging area: body = its size), callback(content_len, body_len,
-- userdata), userdata, debug, adapter (socket.LWIP_ETH ...; default
-- socket.dft(): one the module does not have fails with -4, one not up yet
-- is waited for). Unknown options are ignored, as on a module.
-- sys is looked up when used: a project's own sys.lua is loaded after us.
local function sys() return rawget(_G, "sys") or require "sys" end
local unpack = table.unpack

local http = {}

local POLL_MS = 10
local OPTION_TYPES = { timeout = "number", dst = "string", callback = "function", debug = "boolean" }

local function argcheck(cond, n, msg)
    if not cond then error(string.format("bad argument #%d to 'request' (%s)", n, msg), 3) end
end

local function fota_module() return rawget(_G, "fota") or require "fota" end

local function run(method, url, headers, body, opts, certs, zb)
    local fota = fota_module()
    if opts.fota and opts.dst then return -4 end
    local timeout = math.tointeger(opts.timeout) or 0
    if timeout < 1000 then timeout = opts.fota and 1200000 or opts.dst and 600000 or 60000 end
    local args = {
        url = url, method = method, headers = headers, body = body, timeout = timeout,
        server_cert = certs[1], client_cert = certs[2], client_key = certs[3], client_password = certs[4],
        adapter = math.tointeger(opts.adapter),   -- else the default adapter (socket.dft)
    }
    local t, err
    if opts.fota then
        t, err = fota.download(args)
    else
        args.dst, args.max_body = opts.dst, 1024 * 1024
        t, err = fota.request(args)
    end
    -- As on a module: a url it cannot use fails as a connection would (-4).
    if not t then return err == -10 and -4 or err == -11 and -1 or err end

    while true do
        local rc, msg = t:poll(POLL_MS)
        if opts.callback then
            local done, total = t:progress()
            opts.callback(total or 0, done, opts.userdata)
        end
        if rc == 0 then break end
        if rc < 0 then
            if opts.debug then log.info("http", method, url, "failed", rc, msg) end
            -- in fota mode a module's fota core logs why a package is refused
            if opts.fota and rc == -9 then log.warn("sim", "fota: the downloaded package is refused:", msg) end
            return rc   -- a module gives only the code on an error
        end
        sys().wait(1)
    end
    local status, hdrs = t:status(), t:headers()
    if opts.debug then log.info("http", method, url, "->", status) end
    local ok2xx = status >= 200 and status < 300
    if opts.fota then
        if not ok2xx then return -9, hdrs, t:body() end
        -- As a module's fota mode: the package is checked and marked ready,
        -- so the next boot applies it.
        local verified, reason = fota.verify(require("fotaflow").verify_opts())
        if not verified then
            fota.finish(false)
            -- a module's fota core says why in its own log; a script only sees -9
            log.warn("sim", "fota: the downloaded package is refused:", reason)
            return -9, hdrs, 0
        end
        fota.finish(true)
        -- a resumed download (206) is a whole package to the script, as on a module
        return status == 206 and 200 or status, hdrs, (t:progress())
    end
    if opts.dst then
        if ok2xx then return status, hdrs, (t:progress()) end
        -- as LuatOS's VM: a failed download leaves no file; the body is its length
        os.remove(opts.dst)
        return status, hdrs, #(t:body() or "")
    end
    local resp = t:body() or ""
    if zb then
        -- a zbuff body: the answer's length; a request that sends no body (not POST or PUT)
        -- receives the answer into the zbuff, at its cursor, growing it
        if method ~= "POST" and method ~= "PUT" then
            if zb:len() < zb:used() + #resp + 1 then zb:resize(zb:used() + #resp + 1) end
            zb:write(resp)
        end
        return status, hdrs, #resp
    end
    return status, hdrs, resp
end

local seq = 0

function http.request(method, url, headers, body, opts, server_cert, client_cert, client_key, client_password)
    argcheck(type(method) == "string", 1, "string expected, got " .. type(method))
    argcheck(type(url) == "string", 2, "string expected, got " .. type(url))
    argcheck(headers == nil or type(headers) == "table", 3, "table expected, got " .. type(headers))
    for k, v in pairs(headers or {}) do
        argcheck(type(k) == "string" and (type(v) == "string" or math.type(v) == "integer"), 3,
            "headers: string names and values expected")
    end
    -- a zbuff body: POST and PUT send its written bytes, other methods receive into it (LuatOS)
    local zb
    if type(body) == "userdata" and body.used and body.toStr then
        zb = body
        body = (method == "POST" or method == "PUT") and zb:toStr(0, zb:used()) or nil
    end
    argcheck(body == nil or type(body) == "string", 4, "string or zbuff expected, got " .. type(body))
    argcheck(opts == nil or type(opts) == "table", 5, "table expected, got " .. type(opts))
    local certs = { server_cert, client_cert, client_key, client_password }
    for i = 1, 4 do
        argcheck(certs[i] == nil or type(certs[i]) == "string", 5 + i, "string expected, got " .. type(certs[i]))
    end
    opts = opts or {}
    for k, want in pairs(OPTION_TYPES) do
        if opts[k] ~= nil and type(opts[k]) ~= want then
            error(string.format("bad argument #5 to 'request' (opts.%s: %s expected, got %s)", k, want,
                type(opts[k])), 2)
        end
    end

    seq = seq + 1
    local id, result = "HTTP_RESULT_" .. seq, nil
    sys().taskInit(function()
        -- wait() must return even when the request fails in an unforeseen way.
        local packed = table.pack(pcall(run, method, url, headers, body, opts, certs, zb))
        if packed[1] then
            result = table.pack(unpack(packed, 2, packed.n))
        else
            log.error("http", method, url, packed[2])
            result = table.pack(-1)
        end
        sys().publish(id)
    end)
    return {
        wait = function()
            if not result then sys().waitUntil(id) end
            return unpack(result, 1, result.n)
        end,
    }
end

return http
