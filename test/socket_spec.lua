-- LuatOS's socket library and libnet against a loopback server that runs in
-- this process (luasocket, non-blocking, driven by a sys timer), so the
-- client's events and the server's steps interleave as they would on a wire.
local T = require "testutil"
local ls = require "socket"   -- luasocket, for the server side
local zbuff = require "fota.zbuff"

describe("socket and libnet", function()
    local sys, socket, libnet, simdevice
    local host, simbus = require "fota.host", require "simbus"
    local stops = {}

    before_each(function()
        sys = T.fresh("sys")
        _G.sys = sys
        _G.sysplus = T.fresh("sysplus")
        socket = T.fresh("luatos_socket")
        _G.socket = socket
        libnet = T.fresh("libnet")
        simdevice = require "simdevice"
        simdevice.set_network(true)
    end)
    after_each(function()
        for _, stop in ipairs(stops) do stop() end
        stops = {}
        -- what is still posted (a last poll) runs out here, not in the next spec
        local deadline = host.ms() + 2000
        while not simbus.idle() and host.ms() < deadline do sys.safeRun(20) end
        simdevice.set_network(true)
        _G.socket, _G.sys, _G.sysplus = nil, nil, nil
    end)

    -- A listening server; each sys tick (5 ms) calls step(client | nil) until it returns true.
    local function server(step)
        local srv = assert(ls.bind("127.0.0.1", 0))
        srv:settimeout(0)
        local _, port = srv:getsockname()
        local client, timer
        timer = sys.timerLoopStart(function()
            if not client then
                client = srv:accept()
                if client then client:settimeout(0) end
            end
            if step(client) then
                sys.timerStop(timer)
                if client then client:close() end
                srv:close()
            end
        end, 5)
        local function stop() sys.timerStop(timer) srv:close() end
        stops[#stops + 1] = stop
        return tonumber(port), stop
    end

    local function free_port()
        local s = assert(ls.bind("127.0.0.1", 0))
        local _, port = s:getsockname()
        s:close()
        return tonumber(port)
    end

    -- The message loop until done() (sys.run would go on while the server's timer runs).
    local function run(done, ms)
        local deadline = host.ms() + (ms or 5000)
        while not done() do
            assert(host.ms() < deadline, "test run did not finish")
            sys.safeRun(20)
        end
    end

    it("callback mode: ON_LINE, TX_OK, EVENT with the data, EVENT -1 when the server closes", function()
        local got = ""
        local port = server(function(c)
            if not c then return end
            local line = c:receive("*l")
            if line == "ping" then c:send("pong\n") return true end
        end)
        local events, rxbuf = {}, zbuff.create(4)
        local netc = socket.create(nil, function(n, ev, param)
            events[#events + 1] = { ev, param }
            if ev == socket.ON_LINE then
                assert.same({ true, false, false }, { socket.tx(n, "ping\n") })
            elseif ev == socket.EVENT and param == 0 then
                local ok, first = socket.read(n, 2)   -- read takes at most len, rx the rest
                assert.is_true(ok)
                assert.is_true((socket.rx(n, rxbuf)))
                got = got .. first .. rxbuf:toStr(0, rxbuf:used())
                rxbuf:del()
            elseif ev == socket.EVENT then
                assert.same({ false, 0 }, { socket.rx(n, rxbuf) })
                socket.release(n)
                events.done = true
            end
        end)
        assert.is_true(socket.config(netc))
        assert.same({ true, false }, { socket.connect(netc, "127.0.0.1", port) })
        assert.same({ 3, "正在连接" }, { socket.state(netc) })
        run(function() return events.done end)
        assert.equal("pong\n", got)
        assert.same({ socket.ON_LINE, 0 }, events[1])
        assert.same({ socket.TX_OK, 0 }, events[2])
        assert.same({ socket.EVENT, 0 }, events[3])
        assert.same({ socket.EVENT, -1 }, events[#events])
    end)

    it("libnet in a taskInitEx task: connect, tx, wait, rx into a zbuff, the server closing mid-way", function()
        local port = server(function(c)
            if not c then return end
            local line = c:receive("*l")
            if line then c:send("ACK " .. line .. "\n") return true end
        end)
        local r = {}
        sys.taskInitEx(function()
            local netc = socket.create(nil, "T1")
            r.connect = libnet.connect("T1", 3000, netc, "127.0.0.1", port)
            r.tx = { libnet.tx("T1", 3000, netc, "hello\n") }
            local buf = zbuff.create(2)
            local data = ""
            while true do
                local ok = socket.rx(netc, buf)
                if not ok then break end
                if buf:used() > 0 then data = data .. buf:toStr(0, buf:used()) buf:del() end
                local up = { libnet.wait("T1", 3000, netc) }
                if not up[1] then r.wait = up break end
            end
            r.data = data
            libnet.close("T1", 1000, netc)
            r.state = socket.state(netc)
            socket.release(netc)
            r.finished = true
        end, "T1")
        run(function() return r.finished end)
        assert.is_true(r.connect)
        assert.same({ true, false }, r.tx)
        assert.equal("ACK hello\n", r.data)
        assert.same({ false, false }, r.wait)
        assert.is_number(r.state)
    end)

    it("without a callback or task name the events are published as NWCTRL*", function()
        local port = free_port()
        local got
        sys.subscribe("NWCTRL*", function(...) got = { ... } end)
        local netc = socket.create()
        assert.same({ true, false }, { socket.connect(netc, "127.0.0.1", port) })
        run(function() return got ~= nil end)
        assert.same({ socket.LWIP_GP, netc.id, socket.ON_LINE, -1 }, got)
        socket.release(netc)
    end)

    it("discon on a connected socket: CLOSED 0 follows, the socket is offline and can connect again", function()
        local port = server(function() end)
        local events = {}
        local netc = socket.create(nil, function(_, ev, param) events[#events + 1] = { ev, param } end)
        socket.connect(netc, "127.0.0.1", port)
        run(function() return #events > 0 end)
        assert.same({ socket.ON_LINE, 0 }, events[1])
        assert.same({ 5, "在线" }, { socket.state(netc) })
        assert.same({ true, false }, { socket.discon(netc) })
        run(function() return #events > 1 end)
        assert.same({ socket.CLOSED, 0 }, events[2])
        assert.equal(1, socket.state(netc))
        assert.same({ true, false }, { socket.connect(netc, "127.0.0.1", port) })
        run(function() return #events > 2 end)
        assert.same({ socket.ON_LINE, 0 }, events[3])
        socket.release(netc)
    end)

    it("a refused connection: ON_LINE -1, libnet.connect false", function()
        local port = free_port()
        local events = {}
        local netc = socket.create(nil, function(_, ev, param) events[#events + 1] = { ev, param } end)
        assert.same({ true, false }, { socket.connect(netc, "127.0.0.1", port) })
        run(function() return #events > 0 end)
        assert.same({ { socket.ON_LINE, -1 } }, events)
        socket.release(netc)
        local r
        sys.taskInitEx(function()
            local n = socket.create(nil, "T2")
            r = libnet.connect("T2", 2000, n, "127.0.0.1", port)
            libnet.close("T2", 100, n)
            socket.release(n)
        end, "T2")
        run(function() return r ~= nil end)
        assert.is_false(r)
    end)

    it("tx, rx, read and wait before connect fail as on a module; a second connect on a busy socket too", function()
        local netc = socket.create(socket.LWIP_GP, function() end)
        assert.same({ false, false, false }, { socket.tx(netc, "x") })
        assert.same({ false, 0 }, { socket.rx(netc, zbuff.create(8)) })
        assert.is_false(socket.read(netc))
        assert.same({ false, false }, { socket.wait(netc) })
        assert.same({ true, true }, { socket.discon(netc) })
        local port, stop = server(function() end)
        assert.same({ true, false }, { socket.connect(netc, "127.0.0.1", port) })
        assert.same({ false, false }, { socket.connect(netc, "127.0.0.1", port) })
        socket.release(netc)
        socket.release(netc)   -- twice is harmless
        stop()
    end)

    it("bad arguments are Lua errors naming the argument", function()
        local netc = socket.create()
        assert.has_error(function() socket.create("x") end,
            "bad argument #1 to 'create' (integer expected, got string)")
        assert.has_error(function() socket.create(nil, {}) end,
            "bad argument #2 to 'create' (function or task name expected, got table)")
        assert.has_error(function() socket.connect(netc, {}, 80) end,
            "bad argument #2 to 'connect' (string expected, got table)")
        assert.has_error(function() socket.connect(netc, "127.0.0.1") end,
            "bad argument #3 to 'connect' (number expected, got no value)")
        assert.has_error(function() socket.connect(netc, "127.0.0.1", 70000) end,
            "bad argument #3 to 'connect' (port out of range (1..65535))")
        assert.has_error(function() socket.tx(netc, {}) end,
            "bad argument #2 to 'tx' (string or zbuff expected, got table)")
        assert.has_error(function() socket.rx(netc, "buf") end, "bad argument #2 to 'rx' (zbuff expected, got string)")
        assert.has_error(function() socket.tx("netc", "x") end, "bad argument #1 to 'tx' (socket expected, got string)")
        assert.has_error(function() socket.config(netc, "port") end,
            "bad argument #2 to 'config' (integer expected, got string)")
        assert.is_false(socket.config(netc, nil, true))   -- UDP is not simulated
        assert.is_nil(socket.create(socket.LWIP_STA, function() end))   -- no wifi on this module
        socket.release(netc)
        assert.has_error(function() socket.wait(netc) end, "bad argument #1 to 'wait' (socket released)")
        -- the C layer below checks its own
        local net = require "fota.net"
        assert.has_error(function() net.open("", 80) end)
        assert.has_error(function() net.open("127.0.0.1", 0) end)
        assert.has_error(function() net.open(("h"):rep(256), 80) end)
        assert.has_error(function() net.open("127.0.0.1", 80, { ca = {} }) end)
        assert.has_error(function() net.open("127.0.0.1", 80, { client_cert = "x" }) end)
        local c = assert(net.open("127.0.0.1", free_port()))
        assert.has_error(function() c:step(5000) end)
        assert.has_error(function() c:recv(0) end)
        assert.is_nil(c:step(200))
        c:close()
        c:close()
        assert.has_error(function() c:recv() end)
        -- the certificate stays alive for the port however the caller's table changes
        local opts = { ca = ("not a certificate "):rep(50) .. tostring({}) }
        c = assert(net.open("127.0.0.1", free_port(), opts))
        opts.ca = nil
        collectgarbage()
        collectgarbage()
        local ok, msg = c:step(100)
        assert.is_nil(ok)
        assert.truthy(msg:find("^CA: bad certificate"), msg)
        c:close()
    end)

    it("a huge tx: beyond TX_MAX fails, up to it all arrives, a full queue says so", function()
        local want = T.noise(socket.TX_MAX)
        local port, stop = server(function() end)
        local r = {}
        sys.taskInitEx(function()
            local netc = socket.create(nil, "T3")
            assert(libnet.connect("T3", 3000, netc, "127.0.0.1", port))
            r.too_big = { socket.tx(netc, want .. "x") }
            r.after = { libnet.tx("T3", 1000, netc, "x") }
            libnet.close("T3", 1000, netc)
            socket.release(netc)
            stop()
            r.finished = true
        end, "T3")
        run(function() return r.finished end)
        assert.same({ false, true, false }, r.too_big)
        assert.same({ false, false }, r.after)   -- the failed tx broke the socket, as on a module
        -- a fresh socket takes TX_MAX at once; the next byte finds the queue full
        local seen = {}
        port = server(function(c)
            if not c then return end
            local d, _, part = c:receive(65536)
            d = d or part
            if d and d ~= "" then seen[#seen + 1] = d end
            return #table.concat(seen) >= #want
        end)
        sys.taskInitEx(function()
            local netc = socket.create(nil, "T4")
            assert(libnet.connect("T4", 3000, netc, "127.0.0.1", port))
            r.first = { socket.tx(netc, want) }
            r.full = { socket.tx(netc, "x") }
            r.done = sys.waitMsg("T4", socket.TX_OK, 10000)
            libnet.close("T4", 1000, netc)
            socket.release(netc)
            r.finished4 = true
        end, "T4")
        run(function() return r.finished4 and #table.concat(seen) >= #want end, 20000)
        assert.same({ true, false, false }, r.first)
        assert.same({ true, true, false }, r.full)
        assert.same({ socket.TX_OK, 0 }, { r.done[1], r.done[2] })
        assert.is_true(table.concat(seen) == want)
    end)

    it("network down: connect waits for the link and times out; linkup reports LINK when it comes", function()
        simdevice.set_network(false)
        local r = {}
        sys.taskInitEx(function()
            local netc = socket.create(nil, "T5")
            r.adapter = { socket.adapter() }
            r.connect = libnet.connect("T5", 200, netc, "127.0.0.1", free_port())
            r.state = socket.state(netc)
            socket.close(netc)
            r.linkup = { socket.linkup(netc) }
            sys.timerStart(simdevice.set_network, 100, true)
            r.waitLink = libnet.waitLink("T5", 2000, netc)
            socket.release(netc)
            r.finished = true
        end, "T5")
        run(function() return r.finished end)
        assert.same({ false, socket.LWIP_GP }, r.adapter)
        assert.is_false(r.connect)
        assert.equal(0, r.state)
        assert.same({ true, false }, r.linkup)
        assert.is_true(r.waitLink)
    end)

    it("the link going down under a connection breaks it (EVENT -1)", function()
        local port, stop = server(function() end)
        local r = {}
        sys.taskInitEx(function()
            local netc = socket.create(nil, "T6")
            r.connect = libnet.connect("T6", 2000, netc, "127.0.0.1", port)
            sys.timerStart(simdevice.set_network, 50, false)
            r.wait = { libnet.wait("T6", 2000, netc) }
            socket.release(netc)
            stop()
            r.finished = true
        end, "T6")
        run(function() return r.finished end)
        assert.is_true(r.connect)
        assert.same({ false, false }, r.wait)
    end)

    it("TLS: verified with the server's CA, unverified without one, refused with another CA", function()
        local dir = T.tmpdir("socket-tls")
        local certs = T.make_certs(dir)
        local srv = T.start_server({ dir = dir, tls = true, package = "" })
        local function get(ca)
            local r = {}
            sys.taskInitEx(function()
                local netc = socket.create(nil, "TLS")
                assert.is_true(socket.config(netc, nil, false, true, nil, nil, nil, ca))
                r.connect = libnet.connect("TLS", 5000, netc, "localhost", srv.port)
                if r.connect then
                    libnet.tx("TLS", 5000, netc, "GET /latest HTTP/1.1\r\nHost: localhost\r\n\r\n")
                    local data = ""
                    while libnet.wait("TLS", 5000, netc) do
                        local ok, d = socket.read(netc)
                        if not ok then break end
                        data = data .. d
                    end
                    r.data = data
                end
                libnet.close("TLS", 1000, netc)
                socket.release(netc)
                r.finished = true
            end, "TLS")
            run(function() return r.finished end, 15000)
            return r
        end
        local verified = get(certs.ca)
        assert.is_true(verified.connect)
        assert.truthy(verified.data:find("^HTTP/1.1 "), verified.data)
        assert.truthy(verified.data:find("already latest", 1, true), verified.data)
        local unverified = get(nil)
        assert.is_true(unverified.connect)
        assert.truthy(unverified.data:find("^HTTP/1.1 "), unverified.data)
        assert.is_false(get(certs.other).connect)
        srv.stop()
    end)

    it("at most MAX_SOCKETS at once; a released one makes room", function()
        local all = {}
        for i = 1, socket.MAX_SOCKETS do all[i] = assert(socket.create(nil, "S" .. i)) end
        assert.is_nil(socket.create(nil, "S9"))
        socket.release(all[1])
        all[1] = assert(socket.create(nil, "S9"))
        for _, n in ipairs(all) do socket.release(n) end
    end)
end)
