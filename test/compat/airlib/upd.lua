-- An Air724-style upgrade as LuatOS-Air's lib/update.lua does it: rtos.fota_start,
-- the package fetched over socketcore (the firmware's socket natives, told by
-- rtos messages) with a Range header and streamed through rtos.fota_process,
-- rtos.fota_end, then a restart: the next boot applies it.
module(..., package.seeall)
local idx, head, body_started, total, staged, refused = nil, "", false, 0, false, false
local HOST, PATH
local function finish(ok)
    local r = rtos.fota_end()
    staged = r == 0
    print("upd fota_end", r, ok)
    socketcore.sock_close(idx)
end
rtos.on(rtos.MSG_SOCK_CONN_CNF, function(msg)
    print("upd connect", msg.socket_index == idx, msg.result)
    if msg.result ~= 0 then return finish(false) end
    socketcore.sock_send(idx, "GET " .. PATH .. "?version=" .. VERSION .. " HTTP/1.1\r\nHost: " .. HOST ..
        "\r\nRange: bytes=0-\r\nConnection: close\r\n\r\n")
end)
rtos.on(rtos.MSG_SOCK_SEND_CNF, function(msg) print("upd sent", msg.result) end)
rtos.on(rtos.MSG_SOCK_RECV_IND, function(msg)
    local data = socketcore.sock_recv(msg.socket_index, msg.recv_len)
    if not body_started then
        head = head .. data
        local e = head:find("\r\n\r\n", 1, true)
        if not e then return end
        print("upd status", head:match("^HTTP/1%.%d (%d+)"))
        body_started, data = true, head:sub(e + 4)
    end
    if #data > 0 and not refused then
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
    print("upd received", total)
    finish(true)
end)
rtos.on(rtos.MSG_SOCK_CLOSE_CNF, function(msg)
    socketcore.sock_destroy(msg.socket_index)
    print("upd closed")
    if staged then sys.timerStart(rtos.restart, 10) end
end)
function start(url)
    HOST, PATH = url:match("^http://([^/]+)(/.*)$")
    local host, port = HOST:match("^(.-):(%d+)$")
    assert(rtos.fota_start() == 0)
    idx = socketcore.sock_conn_ext(0, host, tonumber(port))
    print("upd index", idx)
end
