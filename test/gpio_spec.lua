-- gpio over the simulated pin bank, fatfs over a host directory, and the
-- LuatOS demo patterns they serve: a key press that starts an upgrade from
-- the SD card, a host tool pressing a key through DEVICE/gpio.in.
local T = require "testutil"

-- Fresh gpio and message bus; the log goes to a file the test reads.
local function fresh_bank(bsp)
    local simbus = T.fresh("simbus")
    local log = T.fresh("log")
    local logfile = os.tmpname()
    local f = assert(io.open(logfile, "w"))
    log.output(f)
    _G.log = log
    local gpio = T.fresh("gpio")
    gpio.sim.board(bsp or "EC618")
    return gpio, simbus, function()
        f:flush()
        return T.read(logfile)
    end
end

-- Runs the message bus (irq callbacks, debounce timers) for ms.
local function run_bus(simbus, ms)
    local host = require "fota.host"
    local deadline = host.ms() + ms
    while host.ms() < deadline do
        simbus.receive(math.max(0, deadline - host.ms()))
    end
end

describe("gpio", function()
    after_each(function() _G.log = nil end)

    it("setup(pin, level) makes an output: a setter, a log line, the level readable; get reads 0", function()
        local gpio, _, logged = fresh_bank()
        local led = gpio.setup(27, 0)
        assert.is_function(led)
        assert.equal(0, gpio.sim.level(27))
        led(1)
        assert.equal(1, gpio.sim.level(27))
        assert.equal("output", gpio.sim.mode(27))
        assert.equal(0, gpio.get(27))          -- LuatOS: an output pin reads 0
        gpio.set(27, 0)
        assert.equal(0, gpio.sim.level(27))
        assert.matches("I/user.gpio GPIO27 output 0\n.*I/user.gpio GPIO27 output 1\n.*GPIO27 output 0\n", logged())
        -- toggle flips what set/toggle last wrote, not setup's initial level (LuatOS's gpio_out_levels)
        gpio.setup(16, 1)
        gpio.toggle(16)
        assert.equal(1, gpio.sim.level(16))
        gpio.toggle(16)
        assert.equal(0, gpio.sim.level(16))
        gpio.close(16)
        assert.is_nil(gpio.sim.mode(16))
    end)

    it("calls an interrupt callback from the message loop with (level, pin), on its edges only", function()
        local gpio, simbus = fresh_bank()
        local got = {}
        local get = gpio.setup(gpio.PWR_KEY, function(level, pin) got[#got + 1] = { level, pin } end,
            gpio.PULLUP, gpio.FALLING)
        assert.equal(35, gpio.PWR_KEY)
        assert.equal(1, get())                  -- the power key released reads high
        gpio.sim.drive("PWR_KEY", 0)
        assert.same({}, got)                    -- not inside the edge: queued
        assert.equal(0, get())
        run_bus(simbus, 20)
        gpio.sim.drive("PWR_KEY", 1)            -- a rising edge: not for a FALLING interrupt
        run_bus(simbus, 20)
        assert.same({ { 0, 35 } }, got)
        local both = {}
        gpio.setup(9, function(level) both[#both + 1] = level end)   -- default gpio.BOTH
        gpio.sim.drive(9, 1)
        gpio.sim.drive(9, 0)
        run_bus(simbus, 20)
        assert.same({ 1, 0 }, both)
        gpio.close(9)
        gpio.sim.drive(9, 1)
        run_bus(simbus, 20)
        assert.same({ 1, 0 }, both)
    end)

    it("debounces as LuatOS: mode 0 cools down, mode 1 waits for the level to hold", function()
        local gpio, simbus = fresh_bank()
        local cooled, held = {}, {}
        gpio.setup(5, function(level) cooled[#cooled + 1] = level end, nil, gpio.FALLING)
        gpio.debounce(5, 100)
        for _ = 1, 3 do gpio.sim.drive(5, 1) gpio.sim.drive(5, 0) end   -- bouncing: three falls at once
        run_bus(simbus, 30)
        assert.same({ 0 }, cooled)
        gpio.setup(6, function(level, pin) held[#held + 1] = { level, pin } end, nil, gpio.FALLING)
        gpio.debounce(6, 50, 1)
        gpio.sim.drive(6, 1) gpio.sim.drive(6, 0)
        run_bus(simbus, 20)
        gpio.sim.drive(6, 1)                    -- released before 50 ms: nothing
        run_bus(simbus, 80)
        assert.same({}, held)
        gpio.sim.drive(6, 0)                    -- held low: one report, 50 ms later
        run_bus(simbus, 20)
        assert.same({}, held)
        run_bus(simbus, 60)
        assert.same({ { 0, 6 } }, held)
        gpio.setup(7, gpio.count)
        for _ = 1, 4 do gpio.sim.drive(7, 1) gpio.sim.drive(7, 0) end
        assert.equal(8, gpio.count(7))
        assert.equal(0, gpio.count(7))
    end)

    it("numbers the named pins as the bsp does", function()
        local gpio = fresh_bank("EC718PM")
        assert.same({ 39, 40, 45, 46, 22 }, { gpio.WAKEUP0, gpio.VBUS, gpio.CHG_DET, gpio.PWR_KEY, gpio.AUDIOPA_EN })
        gpio.sim.board("EC618")
        assert.same({ 32, 34, 35 }, { gpio.WAKEUP0, gpio.USIM_DET, gpio.PWR_KEY })
        assert.is_nil(gpio.CHG_DET)
        assert.same({ 0, 1, 2, 3, 4, 1, 2, 0, 1 }, { gpio.RISING, gpio.FALLING, gpio.BOTH, gpio.HIGH_IRQ,
            gpio.LOW_IRQ, gpio.PULLUP, gpio.PULLDOWN, gpio.LOW, gpio.HIGH })
    end)

    it("bad arguments give LuatOS's errors; pins a module refuses give nil and its warning", function()
        local gpio, _, logged = fresh_bank()
        assert.has_error(function() gpio.setup() end, "bad argument #1 to 'setup' (number expected, got no value)")
        assert.has_error(function() gpio.setup("key", 0) end,
            "bad argument #1 to 'setup' (number expected, got string)")
        assert.has_error(function() gpio.set(1, 1.5) end,
            "bad argument #2 to 'set' (number has no integer representation)")
        assert.has_error(function() gpio.setup(3, function() end, "up") end,
            "bad argument #3 to 'setup' (number expected, got string)")
        local led = gpio.setup(3, 0)
        assert.has_error(function() led() end, "bad argument #1 to 'led' (number expected, got no value)")
        assert.has_error(function() gpio.debounce(3) end,
            "bad argument #2 to 'debounce' (number expected, got no value)")
        assert.is_nil(gpio.setup(200, 0))
        assert.is_nil(gpio.setup(gpio.PWR_KEY, 0))       -- the power key is an interrupt or nothing
        assert.is_nil(gpio.setup(40, nil))               -- beyond the EC618's pads
        local log = logged()
        assert.matches("W/user.gpio id out of range 0 ~ 127, but 200", log, 1, true)
        assert.matches("W/user.gpio gpio setup fail pin=35 ret -1", log, 1, true)
        assert.matches("W/user.gpio gpio setup fail pin=40 ret -1", log, 1, true)
    end)

    it("reads DEVICE/gpio.in: lines a host tool appends, each an edge, in order", function()
        local gpio, simbus = fresh_bank()
        local dir = T.tmpdir("gpioin")
        local path = dir .. "/gpio.in"
        T.write(path, "WAKEUP0 1\n")               -- there before: the level at power-on
        gpio.sim.watch(path)
        local got = {}
        gpio.setup(gpio.WAKEUP0, function(level, pin) got[#got + 1] = { level, pin } end)
        assert.equal(1, gpio.get(gpio.WAKEUP0))
        local f = assert(io.open(path, "a"))
        f:write("WAKEUP0 0\nWAKEUP0 1\n# a comment\nWAKEUP0 0")   -- the last line not finished yet
        f:close()
        run_bus(simbus, 60)
        assert.same({ { 0, 32 }, { 1, 32 } }, got)
        f = assert(io.open(path, "a"))
        f:write("\n")
        f:close()
        run_bus(simbus, 60)
        assert.same({ { 0, 32 }, { 1, 32 }, { 0, 32 } }, got)
    end)
end)

describe("fatfs", function()
    after_each(function() _G.log = nil end)

    local function fresh_fatfs()
        local _, _, logged = fresh_bank()
        local simdevice = T.fresh("simdevice")
        simdevice.open(T.tmpdir("fatfsdev"))
        return T.fresh("fatfs"), simdevice, logged
    end

    it("fails as an empty slot without a card, with LuatOS's results", function()
        local fatfs, simdevice, logged = fresh_fatfs()
        assert.same({ false, "format error" }, { fatfs.mount(fatfs.SPI, "/sd", 0, 8, 24000000) })
        assert.same({ false, "mount error" }, { fatfs.mount(fatfs.SPI, "/sd", 0, 8, 24000000, nil, 1, false) })
        assert.same({ false, "fatfs_mode error" }, { fatfs.mount(fatfs.RAM, "/sd") })
        assert.same({ nil, 12 }, { fatfs.getfree("/sd") })
        assert.matches("/fs/sd/x$", simdevice.path("/sd/x"))
        assert.matches("W/user.fatfs mount failed, try auto format", logged(), 1, true)
        assert.has_error(function() fatfs.mount() end, "bad argument #1 to 'mount' (number expected, got no value)")
    end)

    it("mounts the card directory at the mount point asked for, and unmounts it", function()
        local fatfs, simdevice = fresh_fatfs()
        local card = T.tmpdir("card")
        fatfs.sim.card(card)
        assert.same({ true, 0 }, { fatfs.mount(fatfs.SDIO, "/sd") })
        assert.equal(card .. "/update.bin", simdevice.path("/sd/update.bin"))
        assert.equal(card, simdevice.path("/sd"))
        assert.matches("/fs/sdx$", simdevice.path("/sdx"))
        local free = fatfs.getfree("/sd")
        assert.is_true(free.total_kb > 0 and free.free_kb <= free.total_kb)
        assert.equal(free.total_sectors // 2, free.total_kb)
        assert.equal(0, fatfs.unmount("/sd"))
        assert.matches("/fs/sd/update.bin$", simdevice.path("/sd/update.bin"))
    end)
end)

describe("spi", function()
    it("sets up the module's buses; nothing but the card slot is on them: an idle bus reads 0xFF", function()
        local spi = T.fresh("spi")
        assert.equal(0, spi.setup(0, nil, 0, 0, 8, 400000))
        assert.equal(-1, spi.setup(2))
        assert.equal("\xFF\xFF", spi.transfer(0, "\x40\0\0\0\0\x95", nil, 2))
        assert.equal(3, spi.send(0, "abc"))
        assert.equal("\xFF", spi.recv(0, 1))
        assert.equal(0, spi.close(0))
        assert.is_nil(spi.recv(0, 1))
        local dev = spi.deviceSetup(1, 8, 0, 0, 8, 20000000)
        assert.equal("\xFF", dev:transfer("\0"))
        assert.equal(0, dev:close())
        assert.has_error(function() spi.setup() end, "bad argument #1 to 'setup' (number expected, got no value)")
        assert.has_error(function() spi.send(0, {}) end, "bad argument #2 to 'send' (string expected, got table)")
    end)
end)

describe("a LuatOS project with a key and an SD card", function()
    local KEY_PROJECT = [[
PROJECT = "keyfota"
VERSION = "1.0.0"
log.info("main", PROJECT, VERSION)
local LED, SD_POWER = 27, 20
local led = gpio.setup(LED, 0)
-- the power key starts the upgrade (fota_uart.lua's pattern); once
gpio.setup(gpio.PWR_KEY, function(level, pin)
    log.info("key", "pressed", level, pin)
    gpio.close(gpio.PWR_KEY)
    sys.publish("KEY_UPGRADE")
end, gpio.PULLUP, gpio.FALLING)
gpio.debounce(gpio.PWR_KEY, 200)
sys.taskInit(function()
    sys.waitUntil("KEY_UPGRADE")
    led(1)
    -- the TF card on SPI0, CS GPIO8 (Air8101's fota_file.lua pattern)
    log.info("sd", "spi", spi.setup(0, nil, 0, 0, 8, 400 * 1000))
    gpio.setup(8, 1)
    local ok, err = fatfs.mount(fatfs.SPI, "/sd", 0, 8, 24 * 1000 * 1000, SD_POWER, 10)
    log.info("sd", "mount", ok, err)
    if not ok then return end
    log.info("sd", "package", io.exists("/sd/update.bin"), io.fileSize("/sd/update.bin"))
    assert(fota.init())
    local result, done = fota.file("/sd/update.bin")
    log.info("fota", "file", result, done)
    if result and done then
        os.remove("/sd/update.bin")
        rtos.reboot()
    end
end)
sys.run()
]]

    local function project(work)
        local proj = work .. "/proj"
        os.execute("mkdir -p " .. proj)
        T.write(proj .. "/main.lua", KEY_PROJECT)
        return proj
    end

    it("upgrades from the SD card when the key is pressed (--gpio, --sd)", function()
        local work = T.tmpdir("keyfota")
        local proj, sd = project(work), work .. "/sd"
        os.execute("mkdir -p " .. sd)
        T.write(sd .. "/update.bin", T.make_package({ project = "keyfota", version = "1.0.1", core = false,
            script = 'PROJECT = "keyfota"\nVERSION = "1.0.1"\nlog.info("main", "new", VERSION)\n' ..
                'gpio.setup(27, 1)\nsys.run()\n' }))
        local out, status = T.run(string.format(
            "bin/luatos-sim %s --device %s/dev --sd %s --max-boots 3 --gpio %s",
            proj, work, sd, "PWR_KEY@400=0,PWR_KEY@450=1,PWR_KEY@460=0"))
        assert.equal(0, status, out)
        local boot1, boot2 = out:match("^(.*)(boot 2:.*)$")
        assert.is_truthy(boot1, out)
        assert.matches("I/user.gpio PWR_KEY input 0 %(%-%-gpio%)", boot1)
        assert.matches("I/user.key pressed 0 35\n", boot1)
        assert.equal(1, select(2, boot1:gsub("I/user.key pressed", "")))   -- the bounce after it closed the key
        assert.matches("I/user.gpio GPIO27 output 1\n", boot1)
        assert.matches("I/user.gpio GPIO20 output 0\n.*I/user.gpio GPIO20 output 1\n.*mount success", boot1)
        assert.matches("I/user.sd spi 0\n", boot1)
        assert.matches("I/user.sd mount true 0\n", boot1)
        assert.matches("I/user.fota file true true\n", boot1)
        assert.matches("boot 2:.*script 1%.0%.1", boot2)
        assert.matches("I/user.main new 1.0.1\n", boot2, 1, true)
        assert.not_matches("%-%-gpio", boot2)           -- the script drives the first boot only
        assert.is_nil(T.read(sd .. "/update.bin"))       -- removed from the card
        assert.equal("27 1\n", T.read(work .. "/dev/gpio.out"))
    end)

    it("without --sd the mount fails as with an empty slot, and nothing is upgraded", function()
        local work = T.tmpdir("keynosd")
        local out, status = T.run(string.format(
            "bin/luatos-sim %s --device %s/dev --max-boots 2 --gpio PWR_KEY@300=0", project(work), work))
        assert.equal(0, status, out)
        assert.matches("I/user.sd mount false format error\n", out, 1, true)
        assert.not_matches("boot 2:", out)
    end)

    it("hears a key a host tool presses through DEVICE/gpio.in while it runs", function()
        local work = T.tmpdir("gpioin")
        local proj, dev = work .. "/proj", work .. "/dev"
        os.execute("mkdir -p " .. proj)
        T.write(proj .. "/main.lua", [[
PROJECT = "watch"
VERSION = "1.0.0"
local n = 0
gpio.setup(gpio.WAKEUP0, function(level, pin)
    n = n + 1
    log.info("key", "edge", n, level, pin)
    if n == 2 then gpio.close(gpio.WAKEUP0) end
end)
log.info("main", "ready")
sys.run()
]])
        local out, status = T.run(string.format([[(
bin/luatos-sim %s --device %s >%s/out 2>&1 & pid=$!
for i in $(seq 200); do grep -q 'user.main ready' %s/out && break; sleep 0.05; done
printf 'WAKEUP0 1\nWAKEUP0 0\n' >>%s/gpio.in
wait $pid; st=$?; cat %s/out; exit $st)]], proj, dev, work, work, dev, work))
        assert.equal(0, status, out)
        assert.matches("I/user.gpio WAKEUP0 input 1 %(gpio.in%)", out)
        assert.matches("I/user.key edge 1 1 32\n.*I/user.key edge 2 0 32\n.*idle", out)
    end)

    it("refuses a bad --gpio script", function()
        local work = T.tmpdir("badgpio")
        local proj = project(work)
        local out, status = T.run("bin/luatos-sim " .. proj .. " --device " .. work .. "/dev --gpio PWR_KEY@x=2")
        assert.equal(2, status, out)
        assert.matches("--gpio wants PIN@MS=LEVEL", out, 1, true)
        out, status = T.run("bin/luatos-sim " .. proj .. " --device " .. work .. "/dev --gpio NOSUCH@10=1")
        assert.equal(2, status, out)
        assert.matches("unknown pin NOSUCH in --gpio", out, 1, true)
        out, status = T.run("bin/luatos-sim " .. proj .. " --device " .. work .. "/dev --sd " .. work .. "/none")
        assert.equal(2, status, out)
        assert.matches("--sd: .* is not a directory", out)
    end)
end)
