--- An Air724 project shaped like LuatOS-Air's public demos (demo/update/
-- LuatIotServer): their main.lua boilerplate (log, sys, net, netLed, pmd,
-- pio, errDump), then the upgrade in a module of its own (testUpdate.lua),
-- shipped without LuatOS-Air's lib/: the simulator's stand-ins run it.
PROJECT = "AIR724_DEMO"
VERSION = "1.0.0"
PRODUCT_KEY = "air724key"

require "log"
LOG_LEVEL = log.LOGLEVEL_TRACE
require "sys"
require "net"
net.startQueryAll(60000, 60000)
require "netLed"
pmd.ldoset(2, pmd.LDO_VLCD)
netLed.setup(true, pio.P0_1, pio.P0_4)
require "errDump"
errDump.request("udp://ota.airm2m.com:9072")
require "testUpdate"

sys.init(0, 0)
sys.run()
