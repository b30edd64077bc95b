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
                "lua_fota/core/fota_err.c", "lua_fota/port/posix/port_posix.c",
                "lua_fota/port/posix/port_posix_net.c", "lua_fota/port/posix/port_posix_pty.c",
                "lua_fota/port/sim/port_fault.c", "lua_fota/port/sim/port_nor.c",
                "lua_fota/core/stage.c", "lua_fota/core/slots.c", "lua_fota/core/pkg.c", "lua_fota/core/archive.c",
                "lua_fota/core/sig.c", "lua_fota/core/version.c", "lua_fota/core/files.c",
                "lua_fota/core/delta.c", "lua_fota/core/delta_model.c", "lua_fota/core/http.c",
                "lua_fota/core/fresh.c", "lua_fota/host/archive_pack.c",
                "lua_fota/lua/lfota.c", "lua_fota/lua/lfota_ctx.c", "lua_fota/lua/lfota_http.c",
                "lua_fota/lua/lfota_pkg.c", "lua_fota/lua/lfota_slots.c", "lua_fota/lua/lzbuff.c",
                "lua_fota/lua/lhost.c", "lua_fota/lua/lcrypto.c", "lua_fota/lua/luart.c", "lua_fota/lua/lnet.c",
                "lua_fota/lua/lbind.c", "lua_fota/lua/lfota_fresh.c",
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
        -- the desktop stand-ins for LuatOS's built-in modules, and the simulator's boot
        sys = "lib/luatos/sys.lua", sysplus = "lib/luatos/sysplus.lua", log = "lib/luatos/log.lua",
        rtos = "lib/luatos/rtos.lua", mobile = "lib/luatos/mobile.lua", mcu = "lib/luatos/mcu.lua",
        json = "lib/luatos/json.lua", fskv = "lib/luatos/fskv.lua", ioext = "lib/luatos/ioext.lua",
        pm = "lib/luatos/pm.lua", errdump = "lib/luatos/errdump.lua", uart = "lib/luatos/uart.lua",
        strext = "lib/luatos/strext.lua", http = "lib/luatos/http.lua", hmeta = "lib/luatos/hmeta.lua",
        simbus = "lib/luatos/simbus.lua", luatos_socket = "lib/luatos/luatos_socket.lua",
        simdevice = "lib/luatos/simdevice.lua", ["sim.boot"] = "lib/luatos/sim/boot.lua",
        -- LuatOS-Air's libraries and boot (luatos-sim --air puts their folder first)
        ["luatos-air.boot"] = "lib/luatos-air/boot.lua", ["luatos-air.sys"] = "lib/luatos-air/sys.lua",
        ["luatos-air.misc"] = "lib/luatos-air/misc.lua", ["luatos-air.http"] = "lib/luatos-air/http.lua",
        ["luatos-air.update"] = "lib/luatos-air/update.lua", ["luatos-air.common"] = "lib/luatos-air/common.lua",
        ["luatos-air.compat51"] = "lib/luatos-air/compat51.lua",
        ["luatos-air.airsocket"] = "lib/luatos-air/airsocket.lua",
    },
    install = { bin = { ["luatos-sim"] = "bin/luatos-sim" } },
}
