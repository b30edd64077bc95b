-- A FOTA project whose upgrade command arrives over its own TCP control
-- channel (test/compat/tcp_cmd, LuatOS's socket demo style), in the
-- simulator against a control server here (luasocket, loopback, bounded in
-- time) and the package from the loopback HTTP fixture.
local T = require "testutil"
local socket = require "socket"   -- luasocket

describe("a project controlled over TCP (socket + libnet)", function()
    local srv

    setup(function() srv = T.start_server({ package = T.next_release("test/compat/tcp_cmd") }) end)
    teardown(function() srv.stop() end)

    -- Starts the simulator in the background; returns done() (true once it
    -- exited) and out() (its output so far).
    local function start_sim(env, extra)
        local work = T.tmpdir("compat-tcp")
        os.execute(string.format("sh -c '%s bin/luatos-sim test/compat/tcp_cmd --device %s/d --max-boots 3 " ..
            "--confirm-after 0 %s >%s/out 2>&1; echo $? >%s/exit' >/dev/null 2>&1 &",
            env, work, extra or "", work, work))
        return function() return T.read(work .. "/exit") ~= nil end,
            function() return T.read(work .. "/out") or "" end,
            function() return tonumber(T.read(work .. "/exit")) end
    end

    local function until_done(done, out, seconds)
        local deadline = socket.gettime() + seconds
        while not done() and socket.gettime() < deadline do socket.sleep(0.05) end
        assert(done(), "the simulator did not finish: " .. out())
    end

    it("HELLO, then UPGRADE <url> from the server: libfota.request, reboot, HELLO from the new version", function()
        local server = assert(socket.bind("127.0.0.1", 0))
        server:settimeout(0.05)
        local _, port = server:getsockname()
        local done, out, status = start_sim("COMPAT_TCP_PORT=" .. port)
        local hellos, replies, clients = {}, {}, {}
        local deadline = socket.gettime() + 40
        while not done() and socket.gettime() < deadline do
            local c = server:accept()
            if c then
                c:settimeout(0.05)
                clients[#clients + 1] = c
            end
            for _, cl in ipairs(clients) do
                local line = cl:receive("*l")
                if line and line:match("^HELLO ") then
                    hellos[#hellos + 1] = line
                    if line:match("^HELLO 1%.0%.1 ") then
                        cl:send("UPGRADE " .. srv.url("/pkg") .. "\n")
                    else
                        cl:close()   -- the server closes: the project's loop ends, and the run
                    end
                elseif line then
                    replies[#replies + 1] = line
                end
            end
        end
        server:close()
        for _, cl in ipairs(clients) do cl:close() end
        assert(done(), "the simulator did not finish: " .. out())
        local o = out()
        assert.equal(0, status(), o)
        assert.equal(2, #hellos, o)
        assert.truthy(hellos[1]:match("^HELLO 1%.0%.1 %d%d%d%d%d%d%d%d%d%d%d%d%d%d%d$"), hellos[1])
        assert.truthy(hellos[2]:match("^HELLO 1%.0%.2 "), hellos[2])
        assert.same({ "OK" }, replies)
        assert.truthy(o:find("I/user.ctrl upgrade command " .. srv.url("/pkg"), 1, true), o)
        assert.truthy(o:find("I/user.fota result 0", 1, true), o)
        assert.truthy(o:find("UPGRADED 1.0.2 V1104", 1, true), o)
        assert.truthy(o:find("I/user.ctrl server closed", 1, true), o)
    end)

    it("a refused connection: libnet.connect false, the project gives up", function()
        local s = assert(socket.bind("127.0.0.1", 0))
        local _, port = s:getsockname()
        s:close()
        local done, out, status = start_sim("COMPAT_TCP_PORT=" .. port)
        until_done(done, out, 20)
        assert.equal(0, status(), out())
        assert.truthy(out():find("I/user.ctrl connect failed", 1, true), out())
    end)

    it("--offline: no IP_READY, no connection; the run ends as a module would wait", function()
        local done, out, status = start_sim("COMPAT_TCP_PORT=1", "--offline")
        until_done(done, out, 20)
        assert.equal(0, status(), out())
        assert.is_nil(out():find("I/user.ctrl", 1, true), out())
        assert.truthy(out():find("idle: no timer or message left", 1, true), out())
    end)
end)
