--- fatfs: LuatOS's SD/TF card file system, the card being a host directory.
--
-- bin/luatos-sim --sd DIR puts a card in the slot (fatfs.sim.card(DIR) in the
-- boot); fatfs.mount(fatfs.SPI | fatfs.SDIO, "/sd", ...) then mounts it, and
-- "/sd/x" in io.open, io.exists, os.remove, fota.file ... is DIR/x (the
-- simulator's path mapping, simdevice.mount). Without a card a mount fails as
-- a module's does with an empty slot: auto format is tried and fails (false,
-- "format error"), or with auto format off false, "mount error". A power pin
-- (argument 6) is pulsed low then high through the simulated gpio bank, as
-- the card driver does before it talks to the card.
local simdevice = require "simdevice"
local host = require "fota.host"

local fatfs = { SPI = 0, SDIO = 1, RAM = 2, USB = 3, FM_FAT32 = 0x02, FM_EXFAT = 0x04 }

local FR_NOT_READY, FR_NOT_ENABLED = 3, 12   -- FatFs's results: no card / no volume mounted
local card                   -- the host directory in the slot, or nil
local mounted = {}           -- mount point -> true
local debug_on = false
local fmt = fatfs.FM_FAT32

local sim = {}
fatfs.sim = sim

local function logger() return rawget(_G, "log") or require "log" end

--- Puts the host directory dir in the card slot (nil: an empty slot).
function sim.card(dir) card = dir end

local argcheck = require "argcheck"
local check_int, opt_int, opt_str = argcheck.int, argcheck.opt_int, argcheck.opt_str

local function power_cycle(pin, delay)
    local gpio = rawget(_G, "gpio") or require "gpio"
    gpio.setup(pin, 0)
    if delay > 0 then host.sleep(delay) end
    gpio.set(pin, 1)
end

--- fatfs.mount(mode, mount_point, spi_id | spi_device | sdio_id, cs, speed,
-- power_pin, power_on_delay, auto_format) -> true, 0 | false, why
function fatfs.mount(...)
    local n = select("#", ...)
    local mode, point, a3, a4, a5, power_pin, power_delay, auto_format = ...
    point = opt_str(point, 2, "/fatfs")
    mode = check_int(mode, 1, n >= 1)
    power_pin = opt_int(power_pin, 6, 0xff)
    power_delay = opt_int(power_delay, 7, 1)
    if mode == fatfs.SPI then
        if type(a3) == "table" and a3.spi_device then
            opt_int(a4, 4, 10000000)
        else
            local id, cs = opt_int(a3, 3, 0), opt_int(a4, 4, 3)
            opt_int(a5, 5, 10000000)
            if debug_on then logger().debug("fatfs", string.format("init sdcard at spi=%d cs=%d", id, cs)) end
        end
    elseif mode == fatfs.SDIO then
        opt_int(a3, 3, 0)
        if debug_on then logger().debug("fatfs", "init FatFS at sdio") end
    elseif mode == fatfs.USB then
        opt_int(a3, 3, 0)
    else
        -- RAM disks exist only in LuatOS's PC builds; a module refuses them
        if debug_on then logger().debug("fatfs", "fatfs_mode error " .. mode) end
        return false, "fatfs_mode error"
    end
    if power_pin ~= 0xff then power_cycle(power_pin, power_delay) end
    local dir = mode ~= fatfs.USB and card
    if not dir then
        if auto_format == false then
            logger().info("fatfs", string.format("sd/tf mount failed %d but auto-format is disabled", FR_NOT_READY))
            return false, "mount error"
        end
        logger().warn("fatfs", "mount failed, try auto format")
        logger().error("fatfs", string.format("sd/tf format failed %d", FR_NOT_READY))
        return false, "format error"
    end
    simdevice.mount(point, dir)
    mounted[point] = true
    logger().info("fatfs", "mount success at " .. (fmt == fatfs.FM_EXFAT and "exfat" or "fat32"))
    return true, 0
end
fatfs.init = fatfs.mount

--- fatfs.unmount([mount_point]) -> 0
function fatfs.unmount(point)
    point = opt_str(point, 1, "/fatfs")
    if mounted[point] then
        simdevice.mount(point, nil)
        mounted[point] = nil
    end
    return 0
end

-- The card's size and free space: the host file system's, as 512-byte
-- sectors in 32 bits (FatFs's DWORD).
local function card_space(dir)
    local p = io.popen("df -Pk " .. simdevice.sh(dir) .. " 2>/dev/null")
    local out = p and p:read("a") or ""
    if p then p:close() end
    local total, avail = out:match("\n%S+%s+(%d+)%s+%d+%s+(%d+)")
    local cap = 0xFFFFFFFF
    total = math.min(math.tointeger(tonumber(total) or 0) * 2, cap)
    avail = math.min(math.tointeger(tonumber(avail) or 0) * 2, total)
    return total, avail
end

--- fatfs.getfree([mount_point]) -> { total_sectors, free_sectors, total_kb,
-- free_kb } | nil, code. FatFs has one volume: any path names the mounted card.
function fatfs.getfree(point)
    opt_str(point, 1, "/fatfs")
    local any = next(mounted)
    if not any then return nil, FR_NOT_ENABLED end
    local total, free = card_space(simdevice.mounted(any))
    if total == 0 then return nil, FR_NOT_READY end
    return { total_sectors = total, free_sectors = free, total_kb = total // 2, free_kb = free // 2 }
end

--- fatfs.debug([1]): more log lines from mount.
function fatfs.debug(v)
    debug_on = opt_int(v, 1, 1) ~= 0
end

--- fatfs.config(crc_check, write_timeout, fmt): only the format (FM_FAT32 /
-- FM_EXFAT) shows on a desktop (the mount's log line).
function fatfs.config(_, _, f)
    if math.type(f) == "integer" then
        fmt = (f == fatfs.FM_EXFAT) and f or fatfs.FM_FAT32
        local name = fmt == fatfs.FM_EXFAT and "exfat" or "fat32"
        logger().info("fatfs", "fatfs set to " .. name .. " , when format sd/tf")
    end
end

return fatfs
