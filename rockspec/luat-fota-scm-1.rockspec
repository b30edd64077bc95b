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
                "lua_fota/fota_err.c", "lua_fota/port_posix.c", "lua_fota/port_posix_net.c",
                "lua_fota/stage.c", "lua_fota/slots.c", "lua_fota/pkg.c", "lua_fota/delta.c", "lua_fota/http.c",
                "lua_fota/lfota.c", "lua_fota/lfota_http.c", "lua_fota/lfota_pkg.c", "lua_fota/lfota_slots.c", "lua_fota/lzbuff.c", "lua_fota/lhost.c",
            },
            -- the module only applies deltas: no generator, so no libdivsufsort/libdeflate
            defines = { "_POSIX_C_SOURCE=200809L", "FOTA_DELTA_NO_GENERATOR" },
            incdirs = { "lua_fota", "$(MBEDTLS_INCDIR)", "$(ZLIB_INCDIR)" },
            libdirs = { "$(MBEDTLS_LIBDIR)", "$(ZLIB_LIBDIR)" },
            libraries = { "mbedtls", "mbedx509", "mbedcrypto", "z" },
        },
        sys = "lib/sys.lua", log = "lib/log.lua", rtos = "lib/rtos.lua", mobile = "lib/mobile.lua",
        mcu = "lib/mcu.lua", json = "lib/json.lua", strext = "lib/strext.lua", simdevice = "lib/simdevice.lua",
        version = "lib/version.lua", fotaflow = "lib/fotaflow.lua", libfota = "lib/libfota.lua",
        libfota2 = "lib/libfota2.lua", http = "lib/http.lua", sysplus = "lib/sysplus.lua", ["sim.boot"] = "lib/sim/boot.lua",
    },
    install = { bin = { ["luatos-sim"] = "bin/luatos-sim" } },
}
