std = "lua53"
-- LuatOS globals a project script sees on a module (and in bin/luatos-sim).
read_globals = { "log", "rtos", "mobile", "mcu", "fota", "json", "http", "zbuff", "sys", "sysplus", "hmeta", "socket",
                 "crypto", "fskv", "pm", "errDump", "uart", "sys_pub", "sys_send", "sys_wait", "sys_cw" }
globals = { "PROJECT", "VERSION", "PRODUCT_KEY", "string", "io", "os" }
max_line_length = 120
files["test"] = { std = "+busted" }
-- LuatOS-Air projects (bin/luatos-sim --air): Lua 5.1 modules — module(..., package.seeall) makes a
-- file's globals its module's fields — and Air's libraries, which require() makes globals.
files["test/compat/air"] = {
    std = "lua51", allow_defined_top = true, module = true,
    read_globals = { "log", "rtos", "sys", "misc", "update", "socket", "common", "json", "crypto", "airapp",
                     "_M", "_NAME", "_PACKAGE", table = { fields = { "getn" } } },
    globals = { "PROJECT", "VERSION", "PRODUCT_KEY" },
}
-- an Air724 project shaped like the public demos, on the simulator's stand-ins
files["test/compat/air724"] = {
    std = "lua51", allow_defined_top = true, module = true,
    read_globals = { "log", "rtos", "sys", "net", "netLed", "pmd", "pio", "errDump", "update" },
    globals = { "PROJECT", "VERSION", "PRODUCT_KEY", "LOG_LEVEL" },
}
-- an Air project shipping its own library (sys, utils, ril over uart.ATC), natives included
files["test/compat/airlib"] = {
    std = "lua51", allow_defined_top = true, module = true,
    read_globals = { "uart", "pio", "pmd", "sys", "ril", "socketcore", table = { fields = { "getn" } } },
    globals = { "PROJECT", "VERSION", rtos = { fields = { "on" } }, string = { fields = { "trim" } } },
}
-- its spec installs and restores the Lua 5.1 names on 5.3
files["test/air_spec.lua"] = { globals = { package = { fields = { "seeall" } }, table = { fields = { "getn" } } } }
