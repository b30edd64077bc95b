-- An Air724-style upgrade as LuatOS-Air's lib/update.lua does it: rtos.fota_start,
-- the package fetched over socketcore (the firmware's socket natives, told by
-- rtos messages) with a Range header and streamed through rtos.fota_process,
-- rtos.fota_end, then a restart: the next boot applies it. An answer with
-- code 43 (the server is building the package) is asked again after
-- AIRLIB_WAIT_MS; any other answer ends the upgrade.
module(..., package.seeall)
local idx, head, body_started, total, staged, refused = nil, "", false, 0, false, false
local status, answer, again = nil, "", false
local HOST, PATH
local function finish(ok)
    local r = rtos.fota_end()
    staged = r == 0
    print("upd fota_end", r, ok)
    socketcore.sock_close(idx)
end
local function connect()
    head, body_started, total, status, answer = "", false, 0, nil, ""
    local host, port = HOST:match("^(.-):(%d+)$")
    idx = socketcore.sock_conn_ext(0, host, tonumber(port))
    print("upd index", idx)
end
rtos.on(rtos.MSG_SOCK_CONN_CNF, function(msg)
    print("upd connect", msg.socket_index == idx, msg.result)
    if msg.result ~= 0 then return finish(false) end
    socketcore.sock_send(idx, "GET " .. PATH .. (PATH:find("?", 1, true) and "&" or "?") .. "version=" .. VERSION ..
        " HTTP/1.1\r\nHost: " .. HOST .. "\r\nRange: bytes=0-\r\nConnection: close\r\n\r\n")
end)
rtos.on(rtos.MSG_SOCK_SEND_CNF, function(msg) print("upd sent", msg.result) end)
rtos.on(rtos.MSG_SOCK_RECV_IND, function(msg)
    local data = socketcore.sock_recv(msg.socket_index, msg.recv_len)
    if not body_started then
        head = head .. data
        local e = head:find("\r\n\r\n", 1, true)
        if not e then return end
        status = head:match("^HTTP/1%.%d (%d+)")
        print("upd status", status)
        body_started, data = true, head:sub(e + 4)
    end
    if status ~= "200" and status ~= "206" then
        answer = answer .. data
    elseif #data > 0 and not refused then
        if rtos.fota_process(data, 0) ~= 0 then   -- refused (as the running release): read no further
            refused = true
            print("upd fota_process refused after", total)
            return finish(false)
        end
        total = total + #data
    end
end)
rtos.on(rtos.MSG_SOCK_CLOSE_IND, function()
    if refused then return end
    if status == "200" or status == "206" then
        print("upd received", total)
        return finish(true)
    end
    local code = answer:match('"code":%s*(%d+)')
    print("upd answer", status, code)
    if code == "43" then
        again = true
        return socketcore.sock_close(idx)
    end
    finish(false)
end)
rtos.on(rtos.MSG_SOCK_CLOSE_CNF, function(msg)
    socketcore.sock_destroy(msg.socket_index)
    print("upd closed")
    if staged then sys.timerStart(rtos.restart, 10) end
    if again then
        again = false
        sys.timerStart(connect, tonumber(os.getenv("AIRLIB_WAIT_MS") or "") or 30000)
    end
end)
function start(url)
    HOST, PATH = url:match("^http://([^/]+)(/.*)$")
    assert(rtos.fota_start() == 0)
    connect()
end
