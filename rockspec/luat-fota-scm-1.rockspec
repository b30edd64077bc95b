-- luarocks make rockspec/luat-fota-scm-1.rockspec   (from the source tree; nothing is downloaded)
rockspec_format = "3.0"
package = "luat-fota"
version = "scm-1"
source = { url = "git+file://." }
description = {
    summary = "FOTA for LuatOS modules: the fota C module, libfota and a desktop simulator",
    license = "MIT",
}
dependencies = { "lua >= 5.3, < 5.4" }
external_dependencies = {
    MBEDTLS = { header = "mbedtls/ssl.h" },
    ZLIB = { header = "zlib.h" },
}
build = {
    type = "builtin",
    modules = {
        fota = {
            sources = {
                "lua_fota/core/fota_err.c", "lua_fota/port/posix/posix_files.c",
                "lua_fota/port/posix/port_posix_clock.c", "lua_fota/port/posix/port_posix_net.c",
                "lua_fota/port/posix/port_posix_pty.c", "lua_fota/port/sim/port_sim.c",
                "lua_fota/port/sim/port_fault.c", "lua_fota/port/sim/port_nor.c",
                "lua_fota/core/stage.c", "lua_fota/core/slots.c", "lua_fota/core/pkg.c", "lua_fota/core/archive.c",
                "lua_fota/core/sig.c", "lua_fota/core/version.c", "lua_fota/core/files.c",
                "lua_fota/core/delta.c", "lua_fota/core/delta_model.c", "lua_fota/core/http.c",
                "lua_fota/core/fresh.c", "lua_fota/core/download.c", "lua_fota/core/inflate.c",
                "lua_fota/host/archive_pack.c",
                "lua_fota/lua/lfota.c", "lua_fota/lua/lfota_ctx.c", "lua_fota/lua/lfota_http.c",
                "lua_fota/lua/lfota_pkg.c", "lua_fota/lua/lfota_slots.c", "lua_fota/lua/lfota_fresh.c",
                -- the simulator's C stand-ins (fota.zbuff, fota.crypto, fota.host, fota.net, fota.uart)
                "sim/c/lzbuff.c", "sim/c/lcrypto.c", "sim/c/lhost.c", "sim/c/lnet.c", "sim/c/luart.c",
                "sim/c/lbind.c",
            },
            -- the module only applies deltas and never writes packages: of lua_fota/host/ only the
            -- script archive's writer (no generator, so no libdivsufsort/libdeflate; no pkg_build.c)
            defines = { "_POSIX_C_SOURCE=200809L" },
            incdirs = { "lua_fota", "$(MBEDTLS_INCDIR)", "$(ZLIB_INCDIR)" },
            libdirs = { "$(MBEDTLS_LIBDIR)", "$(ZLIB_LIBDIR)" },
            libraries = { "mbedtls", "mbedx509", "mbedcrypto", "z" },
        },
        -- what runs on a module too
        version = "lib/version.lua", fotaflow = "lib/fotaflow.lua", libfota = "lib/libfota.lua",
        libfota2 = "lib/libfota2.lua", libnet = "lib/libnet.lua",
        -- the simulator (sim/): the desktop stand-ins for LuatOS's built-in modules, and its boot
        sys = "sim/luatos/sys.lua", sysplus = "sim/luatos/sysplus.lua", log = "sim/luatos/log.lua",
        rtos = "sim/luatos/rtos.lua", mobile = "sim/luatos/mobile.lua", mcu = "sim/luatos/mcu.lua",
        json = "sim/luatos/json.lua", fskv = "sim/luatos/fskv.lua", ioext = "sim/luatos/ioext.lua",
        pm = "sim/luatos/pm.lua", errdump = "sim/luatos/errdump.lua", uart = "sim/luatos/uart.lua",
        strext = "sim/luatos/strext.lua", http = "sim/luatos/http.lua", hmeta = "sim/luatos/hmeta.lua",
        simbus = "sim/luatos/simbus.lua", luatos_socket = "sim/luatos/luatos_socket.lua",
        simdevice = "sim/luatos/simdevice.lua", ["luatos.boot"] = "sim/luatos/boot.lua",
        compat51 = "sim/luatos/compat51.lua", argcheck = "sim/luatos/argcheck.lua", gpio = "sim/luatos/gpio.lua",
        fatfs = "sim/luatos/fatfs.lua", spi = "sim/luatos/spi.lua", simnet = "sim/luatos/simnet.lua",
        netdrv = "sim/luatos/netdrv.lua", wlan = "sim/luatos/wlan.lua", icmp = "sim/luatos/icmp.lua",
        -- LuatOS-Air's libraries and boot (luatos-sim --air puts their folder first)
        ["luatos-air.boot"] = "sim/luatos-air/boot.lua", ["luatos-air.sys"] = "sim/luatos-air/sys.lua",
        ["luatos-air.misc"] = "sim/luatos-air/misc.lua", ["luatos-air.http"] = "sim/luatos-air/http.lua",
        ["luatos-air.update"] = "sim/luatos-air/update.lua", ["luatos-air.common"] = "sim/luatos-air/common.lua",
        ["luatos-air.airsocket"] = "sim/luatos-air/airsocket.lua", ["luatos-air.atc"] = "sim/luatos-air/atc.lua",
        ["luatos-air.airfota"] = "sim/luatos-air/airfota.lua", ["luatos-air.airnative"] = "sim/luatos-air/airnative.lua",
        ["luatos-air.socketcore"] = "sim/luatos-air/socketcore.lua",
        ["luatos-air.net"] = "sim/luatos-air/net.lua", ["luatos-air.netLed"] = "sim/luatos-air/netLed.lua",
        ["luatos-air.errDump"] = "sim/luatos-air/errDump.lua", ["luatos-air.pins"] = "sim/luatos-air/pins.lua",
        ["luatos-air.ntp"] = "sim/luatos-air/ntp.lua", ["luatos-air.sim"] = "sim/luatos-air/sim.lua",
    },
    install = { bin = { ["luatos-sim"] = "bin/luatos-sim" } },
}
