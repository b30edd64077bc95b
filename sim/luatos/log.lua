--- log: LuatOS's leveled logger. log.info("tag", ...) prints
-- "I/user.tag arg1 arg2" with a uptime stamp, as a module's console does.
local host = require "fota.host"

local log = {
    LOG_SILENT = 7, LOG_DEBUG = 1, LOG_INFO = 2, LOG_WARN = 3, LOG_ERROR = 4,
}

local names = { SILENT = 7, DEBUG = 1, INFO = 2, WARN = 3, ERROR = 4 }
local level = log.LOG_DEBUG   -- a module logs everything until the script sets a level
local started = host.ms()
local out = io.stdout

--- log.setLevel("INFO") or log.setLevel(log.LOG_INFO).
function log.setLevel(l)
    local v = type(l) == "string" and names[l:upper()] or math.tointeger(l)
    if not v or v < 0 or v > 7 then error("log.setLevel: unknown level " .. tostring(l), 2) end
    level = v == 0 and log.LOG_SILENT or v   -- LuatOS: 0 is silent (LUAT_LOG_CLOSE, 7)
end

function log.getLevel() return level end

--- Where lines go (a file handle); the desktop's own addition, for tests.
function log.output(f) out = f or io.stdout end

local function emit(lv, letter, tag, ...)
    if lv < level then return end
    -- as LuatOS's print: tag and arguments joined by one space (no trailing space without arguments)
    local parts = { letter .. "/user." .. tostring(tag) }
    for i = 1, select("#", ...) do parts[i + 1] = tostring((select(i, ...))) end
    local ms = host.ms() - started
    out:write(string.format("[%09.3f] %s\n", ms / 1000, table.concat(parts, " ")))
    out:flush()
end

function log.debug(tag, ...) emit(1, "D", tag, ...) end
function log.info(tag, ...) emit(2, "I", tag, ...) end
function log.warn(tag, ...) emit(3, "W", tag, ...) end
function log.error(tag, ...) emit(4, "E", tag, ...) end

return log
