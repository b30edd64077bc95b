std = "lua53"
-- LuatOS globals a project script sees on a module (and in bin/luatos-sim).
read_globals = { "log", "rtos", "mobile", "mcu", "fota", "json", "http", "zbuff", "sys", "sysplus", "hmeta", "socket",
                 "crypto", "fskv", "pm", "errDump", "uart", "sys_pub", "sys_send", "sys_wait", "sys_cw" }
globals = { "PROJECT", "VERSION", "PRODUCT_KEY", "string", "io", "os" }
max_line_length = 120
files["test"] = { std = "+busted" }
