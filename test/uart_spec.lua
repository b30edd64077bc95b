-- uart: LuatOS's uart API on a pseudo-terminal; a host tool (here plain Lua
-- io on the pty's path) on the other side.
local T = require "testutil"

describe("uart on a pty", function()
    local uart, sys, announced

    before_each(function()
        sys = T.fresh("sys")
        _G.sys = sys
        uart = T.fresh("uart")
        announced = {}
        uart.announce = function(id, path) announced[#announced + 1] = { id, path } end
    end)
    after_each(function()
        for id = 0, 3 do uart.close(id) end
        _G.sys = nil
    end)

    it("setup opens a pty; bytes a tool writes come out of uart.read unchanged", function()
        assert.equal(0, uart.setup(1, 115200, 8, 1))
        local path = uart.path(1)
        assert.truthy(path:match("^/dev/pts/%d+$"), path)
        assert.same({ { 1, path } }, announced)
        local tool = assert(io.open(path, "wb"))
        local bytes = "hello\r\n\0\255\3 end"
        tool:write(bytes)
        tool:flush()
        -- the kernel moves bytes from the pty's slave to its master asynchronously: under load they
        -- may not all be there at once
        local socket = require "socket"
        for _ = 1, 200 do
            if uart.rxSize(1) >= #bytes then break end
            socket.sleep(0.01)
        end
        assert.equal(#bytes, uart.rxSize(1))
        assert.equal("hel", uart.read(1, 3))
        assert.equal(bytes:sub(4), uart.read(1, 1000))
        assert.equal("", uart.read(1, 10))
        tool:close()
    end)

    it("uart.write reaches the tool, from a string or a zbuff", function()
        local zbuff = require "fota.zbuff"
        assert.equal(0, uart.setup(2))
        local tool = assert(io.open(uart.path(2), "rb"))
        assert.equal(6, uart.write(2, "pong\r\n"))
        assert.equal("pong\r\n", tool:read(6))
        local b = zbuff.create(16, "\1\2\3")
        assert.equal(3, uart.write(2, b))
        assert.equal("\1\2\3", tool:read(3))
        tool:close()
    end)

    it("calls the receive callback from sys with the bytes waiting", function()
        assert.equal(0, uart.setup(1))
        local got, guard = {}, nil
        uart.on(1, "receive", function(id, len)
            got[#got + 1] = { id, len, uart.read(id, len) }
            uart.close(id)
            sys.timerStop(guard)
        end)
        local tool = assert(io.open(uart.path(1), "wb"))
        sys.timerStart(function() tool:write("PKG!"); tool:flush() end, 30)
        guard = sys.timerStart(function() uart.close(1) end, 3000)
        sys.run()
        tool:close()
        assert.same({ { 1, 4, "PKG!" } }, got)
        assert.is_false(uart.exist(1))
    end)

    it("rx moves bytes into a zbuff; an unknown UART reads nothing", function()
        local zbuff = require "fota.zbuff"
        assert.equal(0, uart.setup(3))
        local tool = assert(io.open(uart.path(3), "wb"))
        tool:write("abcdef")
        tool:flush()
        local b = zbuff.create(4)
        assert.equal(4, uart.rx(3, b))
        assert.equal("abcd", b:toStr())
        assert.equal("ef", uart.read(3))
        tool:close()
        assert.equal("", uart.read(0, 10))
        assert.equal(0, uart.write(0, "x"))
        assert.equal(0, uart.rxSize(0))
    end)

    it("bad arguments are errors naming the argument", function()
        assert.has_error(function() uart.setup("1") end, "bad argument #1 to 'setup' (number expected, got string)")
        assert.has_error(function() uart.write(1, {}) end,
            "bad argument #2 to 'write' (string or zbuff expected, got table)")
        assert.has_error(function() uart.read(1, "x") end, "bad argument #2 to 'read' (number expected, got string)")
        assert.has_error(function() uart.on(1, "data", print) end)
        assert.error_matches(function() uart.on(1, "receive", 5) end, "bad argument #3 to 'on'")
        assert.error_matches(function() uart.rx(1, "x") end, "bad argument #2 to 'rx'")
        local pty = require "fota.uart"
        local port = assert(pty.open())
        port:close()
        assert.error_matches(function() port:read() end, "pty closed")
        assert.error_matches(function() pty.open():read(1 << 20) end, "length out of range")
    end)
end)
