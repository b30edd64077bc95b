-- A loopback HTTP(S) server for the specs: one connection at a time, every
-- behaviour a FOTA client must survive, and a lifetime after which it exits
-- by itself. Usage:
--   lua5.3 test/fixture_server.lua DIR [LIFETIME_S] [tls] [clientauth]
-- DIR holds package.bin (served), and receives port (the bound port) and
-- requests.log (one line per request: METHOD TARGET|range|if-range).
-- With tls: DIR/server.crt, server.key; with clientauth also DIR/ca.crt.
local socket = require "socket"

local dir, lifetime, mode, auth = arg[1], tonumber(arg[2] or "60"), arg[3], arg[4]
local function readfile(p)
    local f = assert(io.open(p, "rb"))
    local s = f:read("a")
    f:close()
    return s
end

local server = assert(socket.bind("127.0.0.1", 0))
local _, port = server:getsockname()
do
    local f = assert(io.open(dir .. "/port.tmp", "w"))
    f:write(port)
    f:close()
    assert(os.rename(dir .. "/port.tmp", dir .. "/port"))
end

local ssl, tls_params
if mode == "tls" then
    ssl = require "ssl"
    tls_params = {
        mode = "server", protocol = "any", options = { "all", "no_sslv2", "no_sslv3" },
        key = dir .. "/server.key", certificate = dir .. "/server.crt",
        verify = auth and { "peer", "fail_if_no_peer_cert" } or "none",
        cafile = auth and (dir .. "/ca.crt") or nil,
    }
end

local ETAG = '"pkg-v1"'
local hits = {}
local deadline = socket.gettime() + lifetime

local function log_request(method, target, h)
    local f = io.open(dir .. "/requests.log", "a")
    f:write(string.format("%s %s|%s|%s\n", method, target, h["range"] or "", h["if-range"] or ""))
    f:close()
end

local function send(c, status, headers, body)
    local lines = { "HTTP/1.1 " .. status }
    for _, h in ipairs(headers) do lines[#lines + 1] = h end
    if body then lines[#lines + 1] = "Content-Length: " .. #body end
    lines[#lines + 1] = "Connection: close"
    c:send(table.concat(lines, "\r\n") .. "\r\n\r\n" .. (body or ""))
end

-- The package, honouring Range with If-Range as a resumable server does.
local function package(c, h)
    local pkg = readfile(dir .. "/package.bin")
    local from = h["range"] and tonumber(h["range"]:match("^bytes=(%d+)%-$"))
    if from and (not h["if-range"] or h["if-range"] == ETAG) then
        if from >= #pkg then
            return send(c, "416 Range Not Satisfiable", { "Content-Range: bytes */" .. #pkg }, "")
        end
        return send(c, "206 Partial Content", {
            "ETag: " .. ETAG, string.format("Content-Range: bytes %d-%d/%d", from, #pkg - 1, #pkg),
        }, pkg:sub(from + 1))
    end
    send(c, "200 OK", { "ETag: " .. ETAG, "Accept-Ranges: bytes" }, pkg)
end

local function json(code, msg)
    return string.format('{"code":%d,"msg":"%s"}', code, msg)
end

local routes = {}

routes["/pkg"] = package

-- The package, and in deliveries.log "<range start> <held>": how many bytes
-- the device's staging file (?stage=PATH) held when it asked.
routes["/tracked"] = function(c, h, _, query)
    local stage = query:match("stage=([^&]+)")
    local f = stage and io.open(stage, "rb")
    local held = f and f:seek("end") or 0
    if f then f:close() end
    local from = h["range"] and tonumber(h["range"]:match("^bytes=(%d+)%-$")) or 0
    f = io.open(dir .. "/deliveries.log", "a")
    f:write(string.format("%d %d\n", from, held))
    f:close()
    package(c, h)
end

-- First request: headers for the whole package, half of it, then a close.
routes["/cut"] = function(c, h, path)
    hits[path] = (hits[path] or 0) + 1
    if hits[path] > 1 then return package(c, h) end
    local pkg = readfile(dir .. "/package.bin")
    c:send("HTTP/1.1 200 OK\r\nETag: " .. ETAG .. "\r\nContent-Length: " .. #pkg ..
        "\r\nConnection: close\r\n\r\n" .. pkg:sub(1, #pkg // 2))
end

-- Like /cut, but the package changes before the retry (a new ETag).
routes["/cut-changed"] = function(c, _, path)
    hits[path] = (hits[path] or 0) + 1
    local pkg = readfile(dir .. "/package.bin")
    if hits[path] > 1 then
        return send(c, "200 OK", { 'ETag: "pkg-v2"' }, pkg)
    end
    c:send("HTTP/1.1 200 OK\r\nETag: " .. ETAG .. "\r\nContent-Length: " .. #pkg ..
        "\r\nConnection: close\r\n\r\n" .. pkg:sub(1, #pkg // 2))
end

-- Cut, then answers a resume with 416 (or with a 206 from the wrong offset),
-- then serves the whole package.
local function cut_then(second)
    return function(c, h, path)
        hits[path] = (hits[path] or 0) + 1
        local pkg = readfile(dir .. "/package.bin")
        if hits[path] == 1 then
            return c:send("HTTP/1.1 200 OK\r\nETag: " .. ETAG .. "\r\nContent-Length: " .. #pkg ..
                "\r\nConnection: close\r\n\r\n" .. pkg:sub(1, #pkg // 2))
        end
        if hits[path] == 2 then return second(c, pkg) end
        package(c, h)
    end
end
routes["/cut-416"] = cut_then(function(c, pkg)
    send(c, "416 Range Not Satisfiable", { "Content-Range: bytes */" .. #pkg }, "")
end)
routes["/cut-badrange"] = cut_then(function(c, pkg)
    send(c, "206 Partial Content", { "ETag: " .. ETAG,
        string.format("Content-Range: bytes 0-%d/%d", #pkg - 1, #pkg) }, pkg)
end)

routes["/chunked"] = function(c)
    local pkg = readfile(dir .. "/package.bin")
    local parts = { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" }
    local i = 1
    while i <= #pkg do
        local n = math.min(1000, #pkg - i + 1)
        parts[#parts + 1] = string.format("%x\r\n%s\r\n", n, pkg:sub(i, i + n - 1))
        i = i + n
    end
    parts[#parts + 1] = "0\r\n\r\n"
    c:send(table.concat(parts))
end

routes["/redirect"] = function(c) send(c, "302 Found", { "Location: /pkg" }, "") end
routes["/loop"] = function(c) send(c, "302 Found", { "Location: /loop" }, "") end
routes["/latest"] = function(c)
    send(c, "404 Not Found", { "Content-Type: application/json" }, json(27, "already latest"))
end
routes["/notfound"] = function(c) send(c, "404 Not Found", {}, "no such thing") end
routes["/echo-body"] = function(c, h) send(c, "200 OK", {}, h.body) end
-- The request's x-* headers, sorted, one "name=value" a line.
routes["/echo-headers"] = function(c, h)
    local lines = {}
    for k, v in pairs(h) do
        if k:sub(1, 2) == "x-" then lines[#lines + 1] = k .. "=" .. v end
    end
    table.sort(lines)
    send(c, "200 OK", {}, table.concat(lines, "\n"))
end
routes["/empty"] = function(c) send(c, "200 OK", {}, "") end
routes["/garbage"] = function(c) c:send("HELLO THERE\r\n\r\n") end
routes["/slow"] = function(c)
    c:send("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
    socket.sleep(2.5)
end
routes["/notpkg"] = function(c) send(c, "200 OK", {}, string.rep("not a package ", 100)) end

-- The IoT platform: a package unless the device already runs LATEST
-- (DIR/latest holds the version string the platform would send).
routes["/api/site/firmware_upgrade"] = function(c, h, _, query)
    local f = io.open(dir .. "/latest")
    local latest = f and f:read("l")
    if f then f:close() end
    local version = query:match("version=([^&]*)")
    if latest and version == latest then
        return send(c, "409 Conflict", { "Content-Type: application/json" }, json(27, "already latest"))
    end
    package(c, h)
end

local function handle(c)
    c:settimeout(5)
    if ssl then
        local s = ssl.wrap(c, tls_params)
        if not s then return c:close() end
        s:settimeout(5)
        if not s:dohandshake() then return s:close() end
        c = s
    end
    local line = c:receive("*l")
    if not line then return c:close() end
    local method, target = line:match("^(%u+) (%S+) HTTP/1%.%d$")
    local h = {}
    while true do
        local l = c:receive("*l")
        if not l or l == "" then break end
        local k, v = l:match("^([^:]+):%s*(.-)%s*$")
        if k then h[k:lower()] = v end
    end
    if not method then return c:close() end
    local n = tonumber(h["content-length"] or "")
    h.body = n and n > 0 and n <= 65536 and c:receive(n) or ""
    log_request(method, target, h)
    local path, query = target:match("^([^?]*)%??(.*)$")
    if path == "/quit" then
        send(c, "200 OK", {}, "bye")
        c:close()
        os.exit(0)
    end
    local route = routes[path]
    -- /static/NAME: the file DIR/static/NAME (a package host's copy)
    local static = path:match("^/static/([%w%._%-]+)$")
    if static and not route then
        local data = readfile(dir .. "/static/" .. static)
        if data then send(c, "200 OK", {}, data) else send(c, "404 Not Found", {}, "no file " .. static) end
    elseif route then
        route(c, h, path, query)
    else
        send(c, "404 Not Found", {}, "unknown fixture " .. path)
    end
    c:close()
end

server:settimeout(0.2)
while socket.gettime() < deadline do
    local c = server:accept()
    if c then handle(c) end
end
