-- netdrv and the socket adapters in bin/luatos-sim: projects written the
-- way LuatOS's netdrv demos and its exnetif / dnsproxy libraries drive the
-- natives (their own small copies here), over the simulated adapters.
local T = require "testutil"

-- An exnetif-like library: brings an SPI Ethernet chip up and makes the
-- first adapter with an address the default one.
local EXNET = [[
local exnet = {}
local names = { [socket.LWIP_ETH] = "ETH", [socket.LWIP_GP] = "4G" }
function exnet.setup_eth(spi_id, cs)
    if spi.setup(spi_id, nil, 0, 0, 8, 25600000) ~= 0 then return false end
    if not netdrv.setup(socket.LWIP_ETH, netdrv.CH390, { spi = spi_id, cs = cs }) then return false end
    return netdrv.dhcp(socket.LWIP_ETH, true)
end
sys.subscribe("IP_READY", function(ip, adapter)
    local _, _, gw = socket.localIP(adapter)
    log.info("exnet", "IP_READY", names[adapter], ip, gw, netdrv.ready(adapter), netdrv.link(adapter))
    if adapter == socket.LWIP_ETH then
        socket.dft(adapter)
        sys.publish("NET_UP", adapter)
    end
end)
sys.subscribe("IP_LOSE", function(adapter) log.info("exnet", "IP_LOSE", names[adapter]) end)
return exnet
]]

-- A dnsproxy-like library: a socket on each adapter, configured for UDP.
local DNSFWD = [[
local dnsfwd = {}
function dnsfwd.setup(adapter, main_adapter)
    dnsfwd.sc = socket.create(adapter, function() end)
    dnsfwd.main_sc = socket.create(main_adapter, function() end)
    socket.config(dnsfwd.sc, 53, true)
    socket.config(dnsfwd.main_sc, nil, true)
    log.info("dnsfwd", dnsfwd.sc ~= nil, dnsfwd.main_sc ~= nil,
        socket.connect(dnsfwd.sc, "255.255.255.255", 0), socket.connect(dnsfwd.main_sc, "114.114.114.114", 53))
    return true
end
return dnsfwd
]]

describe("netdrv and socket adapters", function()
    local srv, sim

    setup(function()
        srv = T.start_server({ package = "" })
        sim = T.sim_against(srv, "netdrv-dev")
    end)
    teardown(function() srv.stop() end)

    it("upgrades with libfota2 over an SPI Ethernet adapter while the cellular one stays down", function()
        local proj = T.tmpdir("netdrv-eth")
        T.write(proj .. "/exnet.lua", EXNET)
        T.write(proj .. "/dnsfwd.lua", DNSFWD)
        T.write(proj .. "/main.lua", [[
PROJECT = "compat"
VERSION = "1.0.1"
PRODUCT_KEY = "compatkey"
local sys = require "sys"
local libfota2 = require "libfota2"
local exnet = require "exnet"
local dnsfwd = require "dnsfwd"
if VERSION ~= "1.0.1" then
    log.info("main", "UPGRADED", VERSION)
    sys.timerStart(rtos.reboot, 100)
else
    sys.taskInit(function()
        log.info("main", "before", socket.create(socket.LWIP_ETH, function() end), netdrv.ready(socket.LWIP_ETH),
            socket.setDNS(socket.LWIP_ETH, 1, "223.5.5.5"))
        log.info("main", "eth", exnet.setup_eth(1, 12))
        local _, adapter = sys.waitUntil("NET_UP", 5000)
        log.info("main", "up", adapter, socket.dft(), socket.adapter(socket.LWIP_GP), socket.adapter())
        dnsfwd.setup(socket.LWIP_ETH, socket.LWIP_GP)
        libfota2.request(function(ret)
            log.info("main", "fota", ret)
            if ret == 0 then rtos.reboot() end
        end, { url = os.getenv("COMPAT_URL"), timeout = 10000 })
    end)
end
sys.run()
]])
        T.write(srv.dir .. "/package.bin", T.next_release(proj))
        local out = sim(proj, "--offline --max-boots 2")
        assert.truthy(out:find("before nil nil false", 1, true), out)
        assert.truthy(out:find("eth true", 1, true), out)
        assert.truthy(out:find("adapter LWIP_ETH (CH390 on SPI1, cs 12) ready, ip 127.0.4.2", 1, true), out)
        assert.truthy(out:find("IP_READY ETH 127.0.4.2 127.0.4.1 true true", 1, true), out)
        assert.truthy(out:find("default adapter LWIP_ETH (was LWIP_GP)", 1, true), out)
        assert.truthy(out:find("up 4 4 false true 4", 1, true), out)
        assert.truthy(out:find("dnsfwd true true false false false", 1, true), out)
        assert.truthy(out:find("fota 0", 1, true), out)
        assert.truthy(out:find("UPGRADED 1.0.2", 1, true), out)
    end)

    it("publishes IP_READY per adapter: the netdrv_4g handler's setDNS, requests pinned to an adapter", function()
        local proj = T.tmpdir("netdrv-multi")
        T.write(proj .. "/main.lua", [[
PROJECT = "multi"
VERSION = "1.0.0"
sys.subscribe("IP_READY", function(ip, adapter)
    log.info("main", "IP_READY", ip, adapter, socket.setDNS(adapter, 1, "223.5.5.5"), socket.getDNS(adapter, 1))
end)
sys.taskInit(function()
    -- an adapter that is not there fails at once, as on a module
    log.info("main", "sta", netdrv.setup(socket.LWIP_STA, netdrv.WHALE),
        http.request("GET", os.getenv("COMPAT_URL"), nil, nil, { adapter = socket.LWIP_STA }).wait())
    spi.setup(0, nil, 0, 0, 8, 25600000)
    netdrv.setup(socket.LWIP_ETH, netdrv.CH390, { spi = 0, cs = 8 })
    log.info("main", "static", netdrv.ipv4(socket.LWIP_ETH, "192.168.4.1", "255.255.255.0", "192.168.4.1"))
    -- a request pinned to ETH waits for its link
    local code, _, body = http.request("GET", os.getenv("COMPAT_URL"), nil, nil, { adapter = socket.LWIP_ETH }).wait()
    log.info("main", "eth http", code, #body, netdrv.ready(-1))
    -- a socket on the Ethernet adapter; it breaks when that adapter loses its address
    local netc = socket.create(socket.LWIP_ETH, function(_, ev, p) sys.publish("ETH_SOCK", ev, p) end)
    socket.config(netc)
    socket.connect(netc, "127.0.0.1", tonumber(os.getenv("COMPAT_URL"):match(":(%d+)/")))
    local _, ev, p = sys.waitUntil("ETH_SOCK", 2000)
    log.info("main", "eth socket online", ev == socket.ON_LINE, p)
    log.info("main", "reset", netdrv.ctrl(socket.LWIP_ETH, netdrv.CTRL_RESET, netdrv.RESET_HARD),
        netdrv.ready(socket.LWIP_ETH))
    _, ev, p = sys.waitUntil("ETH_SOCK", 2000)
    log.info("main", "eth socket broken", ev == socket.EVENT, p)
    sys.waitUntil("IP_READY", 2000)
    log.info("main", "after reset", netdrv.ready(socket.LWIP_ETH), netdrv.ipv4(socket.LWIP_ETH))
    rtos.reboot()
end)
sys.run()
]])
        T.write(srv.dir .. "/package.bin", "0123456789")
        local out = sim(proj, "--max-boots 1 --net-delay 50")
        assert.truthy(out:find("WHALE is the airlink to a Wi-Fi coprocessor (Air8000): hardware this simulator does not"
            .. " provide", 1, true), out)
        assert.truthy(out:find("sta false -4", 1, true), out)
        assert.truthy(out:find("static 192.168.4.1 255.255.255.0 192.168.4.1", 1, true), out)
        assert.truthy(out:find("IP_READY 192.168.4.1 4 true 223.5.5.5", 1, true), out)
        assert.truthy(out:find("IP_READY 127.0.0.1 1 true 223.5.5.5", 1, true), out)
        assert.truthy(out:find("eth http 200 10 true 18", 1, true), out)   -- bits 1 (4G) and 4 (ETH)
        assert.truthy(out:find("adapter LWIP_ETH (CH390 on SPI0, cs 8) lost its address", 1, true), out)
        assert.truthy(out:find("eth socket online true 0", 1, true), out)
        assert.truthy(out:find("reset true false", 1, true), out)
        assert.truthy(out:find("eth socket broken true -1", 1, true), out)
        assert.truthy(out:find("after reset true 192.168.4.1", 1, true), out)
    end)
end)
