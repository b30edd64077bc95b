--- ntp for LuatOS-Air projects without LuatOS-Air's own lib/: the time
-- sync. The desktop's clock is right already: timeSync(period, fnc, fun),
-- once the network is up, calls fun(), then fnc(time, true) (as
-- misc.setClock's callback), publishes NTP_SUCCEED and logs the date, as
-- the library does after an NTP answer; with period (hours) it does it
-- again every period.
local ntp = {}

local servers = { "ntp1.aliyun.com", "ntp2.aliyun.com", "ntp3.aliyun.com", "ntp4.aliyun.com",
                  "ntp5.aliyun.com", "ntp7.aliyun.com", "ntp6.aliyun.com", "s2c.time.edu.cn",
                  "194.109.22.18", "210.72.145.44" }
local done = false

local function sys() return rawget(_G, "sys") or require "sys" end

function ntp.getServers() return servers end
function ntp.setServers(st)
    if type(st) ~= "table" then error("bad argument #1 to 'setServers' (table expected, got " .. type(st) .. ")", 2) end
    servers = st
end
function ntp.isEnd() return done end

function ntp.ntpTime(period, fnc, fun)
    done = false
    while true do
        while not socket.isReady() do sys().waitUntil("IP_READY_IND") end
        local t = os.date("*t")
        if type(fun) == "function" then fun() end
        if type(fnc) == "function" then fnc(t, true) end
        done = true
        sys().publish("NTP_SUCCEED")
        log.info("ntp.timeSync is date:", t.year .. "/" .. t.month .. "/" .. t.day .. "," .. t.hour .. ":" ..
            t.min .. ":" .. t.sec)
        if type(period) ~= "number" then return end
        sys().wait(period * 3600 * 1000)
    end
end

function ntp.timeSync(period, fnc, fun)
    sys().taskInit(ntp.ntpTime, period, fnc, fun)
end

_G.ntp = ntp
return ntp
