-- Wi-Fi in bin/luatos-sim: wlan over a simulated station adapter
-- (--wifi SSID[:PASSWORD]), driven the way LuatOS's exnetif and the
-- netdrv_wifi demos drive it.
local T = require "testutil"

-- An exnetif-like library: Wi-Fi first, 4G after; the first adapter with
-- an address in that order becomes the default one.
local EXNET = [[
local exnet = {}
local order, up = {}, {}
local names = { [socket.LWIP_STA] = "WiFi", [socket.LWIP_GP] = "4G" }
local function apply()
    for _, id in ipairs(order) do
        if up[id] then
            if socket.dft() ~= id or not exnet.active then
                socket.dft(id)
                exnet.active = id
                sys.publish("NET_UP", names[id], id)
            end
            return
        end
    end
end
function exnet.set_priority_order(list)
    for _, cfg in ipairs(list) do
        if cfg.WIFI then
            wlan.init()
            if not wlan.connect(cfg.WIFI.ssid, cfg.WIFI.password, 1) then return false end
            order[#order + 1] = socket.LWIP_STA
        elseif cfg.LWIP_GP then
            order[#order + 1] = socket.LWIP_GP
        end
    end
    socket.dft(order[1])
    return true
end
sys.subscribe("WLAN_STA_INC", function(evt, data) log.info("exnet", "WLAN_STA_INC", evt, data) end)
sys.subscribe("IP_READY", function(ip, adapter)
    local _, _, gw = socket.localIP(adapter)
    log.info("exnet", "IP_READY", names[adapter], ip, icmp.setup(adapter), icmp.ping(adapter, gw))
end)
sys.subscribe("PING_RESULT", function(id, ms, dst)
    log.info("exnet", "PING_RESULT", names[id], dst)
    up[id] = true
    apply()
end)
sys.subscribe("IP_LOSE", function(adapter) up[adapter] = nil apply() end)
return exnet
]]

describe("wlan and the Wi-Fi station adapter", function()
    local srv, sim

    setup(function()
        srv = T.start_server({ package = "" })
        sim = T.sim_against(srv, "wlan-dev")
    end)
    teardown(function() srv.stop() end)

    it("upgrades with libfota2 over Wi-Fi that an exnetif-like module picks, the cellular one down", function()
        local proj = T.tmpdir("wlan-fota")
        T.write(proj .. "/exnet.lua", EXNET)
        T.write(proj .. "/main.lua", [[
PROJECT = "compat"
VERSION = "1.0.1"
PRODUCT_KEY = "compatkey"
local libfota2 = require "libfota2"
local exnet = require "exnet"
if VERSION ~= "1.0.1" then
    log.info("main", "UPGRADED", VERSION)
    sys.timerStart(rtos.reboot, 100)
else
    sys.subscribe("WLAN_SCAN_DONE", function()
        for _, ap in ipairs(wlan.scanResult()) do log.info("scan", ap.ssid, #ap.bssid, ap.channel, ap.rssi) end
    end)
    sys.taskInit(function()
        log.info("main", "before", wlan.ready(), socket.adapter(socket.LWIP_STA))
        wlan.init()
        wlan.scan()
        log.info("main", "order", exnet.set_priority_order({ { WIFI = { ssid = "lab net", password = "s3cret:x" } },
                                                            { LWIP_GP = true } }))
        local _, name, adapter = sys.waitUntil("NET_UP", 5000)
        log.info("main", "up", name, adapter, wlan.ready(), wlan.getIP(), wlan.getInfo().gw, #wlan.getMac(),
            netdrv.ready(socket.LWIP_STA))
        libfota2.request(function(ret)
            log.info("main", "fota", ret)
            if ret == 0 then rtos.reboot() end
        end, { url = os.getenv("COMPAT_URL"), timeout = 10000 })
    end)
end
sys.run()
]])
        T.write(srv.dir .. "/package.bin", T.next_release(proj))
        local out = sim(proj, "--offline --max-boots 2 --wifi 'guest' --wifi 'lab net:s3cret:x'")
        assert.truthy(out:find('Wi-Fi network "lab net" in range (with a password)', 1, true), out)
        assert.truthy(out:find("before false false", 1, true), out)
        assert.truthy(out:find("scan guest 6 1 -40", 1, true), out)
        assert.truthy(out:find("scan lab net 6 6 -45", 1, true), out)
        assert.truthy(out:find("order true", 1, true), out)
        assert.truthy(out:find("WLAN_STA_INC CONNECTED lab net", 1, true), out)
        assert.truthy(out:find("adapter LWIP_STA (Wi-Fi STA) ready, ip 127.0.2.2", 1, true), out)
        assert.truthy(out:find("IP_READY WiFi 127.0.2.2 true 1", 1, true), out)
        assert.truthy(out:find("PING_RESULT WiFi 127.0.2.1", 1, true), out)
        assert.truthy(out:find("up WiFi 2 true 127.0.2.2 127.0.2.1 12 true", 1, true), out)
        assert.truthy(out:find("fota 0", 1, true), out)
        assert.truthy(out:find("UPGRADED 1.0.2", 1, true), out)
    end)

    it("fails to join with a wrong password or an SSID not in range, and loses the address on disconnect", function()
        local proj = T.tmpdir("wlan-wrong")
        T.write(proj .. "/main.lua", [[
PROJECT = "wrong"
VERSION = "1.0.0"
sys.subscribe("IP_LOSE", function(adapter) log.info("main", "IP_LOSE", adapter) end)
sys.taskInit(function()
    log.info("main", "no init", wlan.connect("lab", "s3cret"))
    wlan.init()
    log.info("main", "empty", wlan.connect(""))
    log.info("main", "wrong", wlan.connect("lab", "guess", 1))
    log.info("main", "event", sys.waitUntil("WLAN_STA_INC", 3000))
    local url = os.getenv("COMPAT_URL")
    local code = http.request("GET", url, nil, nil, { adapter = socket.LWIP_STA, timeout = 1000 }).wait()
    log.info("main", "http", code, wlan.ready(), wlan.getIP())
    wlan.connect("elsewhere", "x")
    log.info("main", "absent", sys.waitUntil("WLAN_STA_INC", 3000))
    wlan.connect("lab", "s3cret")
    log.info("main", "right", sys.waitUntil("IP_READY", 3000))
    log.info("main", "http", http.request("GET", url, nil, nil, { adapter = socket.LWIP_STA }).wait())
    -- not a package: a script sees -9, the simulator's log says why (a module's fota core logs it)
    log.info("main", "fota mode", http.request("GET", url, nil, nil, { fota = true }).wait())
    log.info("main", "ap", wlan.createAP("mine", "12345678"))
    wlan.disconnect()
    log.info("main", "left", sys.waitUntil("WLAN_STA_INC", 3000))
    sys.wait(50)
    log.info("main", "after", wlan.ready(), netdrv.ready(socket.LWIP_STA))
end)
sys.run()
]])
        T.write(srv.dir .. "/package.bin", "0123456789")
        local out = sim(proj, "--max-boots 1 --net-delay 50 --wifi lab:s3cret")
        assert.truthy(out:find("no init false", 1, true), out)
        assert.truthy(out:find("ssid is empty", 1, true), out)
        assert.truthy(out:find("empty\n", 1, true), out)
        assert.truthy(out:find("wrong true", 1, true), out)
        assert.truthy(out:find('wlan: cannot join "lab": wrong password (reason 258)', 1, true), out)
        assert.truthy(out:find("event true DISCONNECTED 258", 1, true), out)
        assert.truthy(out:find("http -4 false 0.0.0.0", 1, true), out)
        assert.truthy(out:find("absent true DISCONNECTED 257", 1, true), out)
        assert.truthy(out:find("right true 127.0.2.2 2", 1, true), out)
        assert.truthy(out:find("http 200", 1, true), out)
        assert.truthy(out:find("fota mode -9", 1, true), out)
        assert.truthy(out:find("W/user.sim fota: the downloaded package is refused:", 1, true), out)
        assert.truthy(out:find("ap false", 1, true), out)
        assert.truthy(out:find("left true DISCONNECTED", 1, true), out)
        assert.truthy(out:find("IP_LOSE 2", 1, true), out)
        assert.truthy(out:find("after false false", 1, true), out)
    end)
end)
