--- An Air724UG project in LuatOS-Air's style: Lua 5.1 modules, Air's sys,
-- misc and update. AIR_MODE picks how it upgrades (AIR_URL the server):
--   cb      update.request(cbFnc, url): cbFnc(true) restarts it
--   nocb    update.request(nil, url): update restarts it itself
--   period  update.request(cbFnc, url, 300): asks every 300 ms; 100 ms after
--           two refusals it calls update.request(nil, AIR_URL2): asked at once
--   redir   update.request(cbFnc, url, nil, true): need_oss_url=1
PROJECT = "airdemo"
VERSION = "1.0.1"
PRODUCT_KEY = "airkey"

require "log"
require "sys"
require "misc"
require "update"
require "airapp"

local mode = os.getenv("AIR_MODE") or "cb"

sys.taskInit(function()
    if VERSION ~= "1.0.1" then
        log.info("air", "UPGRADED", VERSION, rtos.get_version(), airapp.describe())
        return
    end
    while not socket.isReady() do sys.waitUntil("IP_READY_IND") end
    log.info("air", "ready", misc.getImei(), rtos.get_version(), airapp.describe())
    local url = os.getenv("AIR_URL")
    if mode == "nocb" then
        update.request(nil, url)
    elseif mode == "period" then
        update.request(airapp.onResult, url, 300)
    elseif mode == "redir" then
        update.request(airapp.onResult, url, nil, true)
    else
        update.request(airapp.onResult, url)
    end
end)

sys.init(0, 0)
sys.run()
