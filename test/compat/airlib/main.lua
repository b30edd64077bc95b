PROJECT = "AIRLIB"
VERSION = "1.0.0"
require "sys"
require "ril"
pio.pin.setdir(pio.OUTPUT, pio.P0_1)
pmd.ldoset(2, pmd.LDO_VLCD)
ril.request("ATE0")
ril.request("AT+CGSN", function(_, ok, imei) print("airlib imei", ok, imei) end)
ril.request("AT+ICCID", function(_, ok, v) print("airlib iccid", ok, v) end)
ril.regUrc("+CEREG", function(s)
    print("airlib urc", s, VERSION)
    if os.getenv("AIRLIB_URL") then
        require("upd").start(os.getenv("AIRLIB_URL"))
        return
    end
    ril.request("AT+CSQ", function(_, ok, v)
        print("airlib csq", ok, v)
        rtos.restart()
    end)
end)
sys.init(0, 0)
sys.run()
