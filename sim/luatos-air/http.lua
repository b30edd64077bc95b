--- http for LuatOS-Air projects: Air's callback API on the fota module's
-- HTTP client (the same C client as LuatOS's http and libfota):
--   http.request(method, url, cert, head, body, timeout, cbFnc, rcvFileName)
-- runs the request in a task and calls cbFnc(result, prompt, head, body):
-- result true with prompt the status code as a string ("200"), head the
-- response headers (names as sent) and body the response body, or the file
-- it was saved to with rcvFileName (any status: Air writes every answer's
-- body there); result false with prompt why ("network not ready", "connect
-- fail", "receive timeout", ...). Redirects are not followed: a 3xx is an
-- answer, as on Air. A url without "http://" or "https://" is http. A
-- relative rcvFileName is saved under /http_down/. cert: { caCert =,
-- clientCert =, clientKey =, clientPassword = } (file names; relative
-- ones are the script's, in /luadb/). Returns the file name used, if any.
-- rcvFileName may instead be a function, as the Air724 library's
-- rcvFileOrFnc: it is called with (data, totalLen, statusCode) as the body
-- arrives, in pieces of at most RECEIVER_CHUNK bytes (totalLen the whole
-- resource's length: Content-Range's total for a 206), before cbFnc; the
-- body then goes to cbFnc as nil. When it returns false the transfer is
-- stopped there, and cbFnc gets (false, "receive: stopped by the receiver"),
-- as a module stops reading a download it does not want. (A 2xx body passes
-- through a temporary file, /http_down/.receiver, on its way.)
local http = {}

local POLL_MS = 10
local MAX_BODY = 1024 * 1024      -- a body kept in memory, as the module's RAM allows
local DEFAULT_TIMEOUT = 30000     -- Air's
local RECEIVER_CHUNK = 1460       -- a TCP segment's payload, as the module's stack hands them over
local RECEIVER_FILE = "/http_down/.receiver"

local function sys() return rawget(_G, "sys") or require "sys" end
local function fota() return rawget(_G, "fota") or require "fota" end

local PROMPTS = {
    [-1] = "request error", [-2] = "parse received head error", [-3] = "receive body error",
    [-4] = "connect fail", [-5] = "connection closed", [-6] = "receive error",
    [-7] = "receive: write file error", [-8] = "receive timeout",
}

local function argcheck(cond, n, what, v)
    if not cond then
        error(string.format("bad argument #%d to 'request' (%s expected, got %s)", n, what, type(v)), 3)
    end
end

local function read_cert(name)
    if name == nil then return nil end
    local path = name:sub(1, 1) == "/" and name or ("/luadb/" .. name)
    return io.readFile(path) or error("http.request: cannot read certificate " .. name, 0)
end

local function body_text(body)
    if type(body) ~= "table" then return body end
    local parts = {}
    for i, part in ipairs(body) do
        if type(part) == "string" then
            parts[i] = part
        elseif type(part) == "table" and (part.file or part.file_base64) then
            local data = io.readFile(part.file or part.file_base64)
            if not data then return nil, "send file open fail" end
            parts[i] = part.file_base64 and crypto.base64_encode(data, #data) or data
        else
            return nil, "send body fail"
        end
    end
    return table.concat(parts)
end

local function wait_network(timeout)
    local socket = rawget(_G, "socket")
    while not (socket and socket.isReady and socket.isReady()) do
        if not sys().waitUntil("IP_READY_IND", timeout) then return false end
    end
    return true
end

local function header(headers, name)
    for k, v in pairs(headers or {}) do
        if k:lower() == name then return v end
    end
end

-- The bytes of a 2xx body that arrived in file since the last call, handed
-- to the receiver: false when it wants no more.
local function feeder(receiver, file)
    local fed = 0
    return function(t)
        local status = t:status()
        if not status or status < 200 or status >= 300 then return true end
        local f = io.open(file, "rb")
        if not f then return true end
        local size = f:seek("end")
        local total = tonumber((header(t:headers(), "content-range") or ""):match("/(%d+)%s*$") or "")
            or tonumber(header(t:headers(), "content-length") or "") or size
        f:seek("set", fed)
        local going = true
        while going and fed < size do
            local data = f:read(math.min(RECEIVER_CHUNK, size - fed))
            if not data then break end
            fed = fed + #data
            going = receiver(data, total, tostring(status)) ~= false
        end
        f:close()
        return going
    end
end

local function transfer(method, url, cert, head, body, timeout, file, receiver)
    if not wait_network(timeout) then return false, "network not ready" end
    local text, berr = body_text(body)
    if not text and berr then return false, berr end
    local t, err, msg = fota().request({
        url = url, method = method, headers = head, body = text ~= "" and text or nil, timeout = timeout,
        max_redirects = -1, dst = file, max_body = MAX_BODY,
        server_cert = cert.caCert and read_cert(cert.caCert), client_cert = read_cert(cert.clientCert),
        client_key = read_cert(cert.clientKey), client_password = cert.clientPassword,
    })
    if not t then return false, err == -10 and "Invalid url" or msg or PROMPTS[err] or tostring(err) end
    local feed = receiver and feeder(receiver, file)
    while true do
        local rc, emsg = t:poll(POLL_MS)
        if feed and rc >= 0 and not feed(t) then
            local headers = t:headers()
            t:close()
            return false, "receive: stopped by the receiver", headers
        end
        if rc == 0 then break end
        if rc < 0 then
            t:close()
            return false, PROMPTS[rc] or emsg or tostring(rc), t:headers()
        end
        sys().wait(1)
    end
    local status, headers = t:status(), t:headers()
    if receiver then
        if (status < 200 or status >= 300) and #t:body() > 0 then receiver(t:body(), #t:body(), tostring(status)) end
        return true, tostring(status), headers
    end
    if file then
        -- a 2xx body is in the file already; any other answer's body goes there too
        if status < 200 or status >= 300 then
            local f = io.open(file, "wb")
            if not f then return false, "receive: open file error", headers end
            f:write(t:body())
            f:close()
        end
        return true, tostring(status), headers, file
    end
    return true, tostring(status), headers, t:body()
end

function http.request(method, url, cert, head, body, timeout, cbFnc, rcvFileName)
    argcheck(type(method) == "string", 1, "string", method)
    argcheck(type(url) == "string", 2, "string", url)
    argcheck(cert == nil or type(cert) == "table", 3, "table", cert)
    argcheck(head == nil or type(head) == "table", 4, "table", head)
    argcheck(body == nil or type(body) == "string" or type(body) == "table", 5, "string or table", body)
    argcheck(timeout == nil or math.tointeger(timeout), 6, "integer", timeout)
    argcheck(cbFnc == nil or type(cbFnc) == "function", 7, "function", cbFnc)
    argcheck(rcvFileName == nil or type(rcvFileName) == "string" or type(rcvFileName) == "function", 8,
        "string or function", rcvFileName)
    if not url:match("^%a+://") then url = "http://" .. url end
    local receiver = type(rcvFileName) == "function" and rcvFileName
    local file = not receiver and rcvFileName or nil
    if file and file:sub(1, 1) ~= "/" then
        if not io.dexist("/http_down") then io.mkdir("/http_down") end
        file = "/http_down/" .. file
    end
    timeout = math.tointeger(timeout) or DEFAULT_TIMEOUT
    if timeout < 1 then timeout = DEFAULT_TIMEOUT end
    sys().taskInit(function()
        if receiver and not io.dexist("/http_down") then io.mkdir("/http_down") end
        local res = table.pack(pcall(transfer, method, url, cert or {}, head, body, timeout,
            receiver and RECEIVER_FILE or file, receiver))
        if not res[1] then res = table.pack(true, false, tostring(res[2])) end
        if not res[2] then log.error("http.response", false, res[3]) end
        if receiver then os.remove(RECEIVER_FILE) end
        if cbFnc then cbFnc(table.unpack(res, 2, res.n)) end
    end)
    return file
end

_G.http = http
return http
