--- errDump: LuatOS's error log for the IoT platform, as a desktop has it.
-- config is accepted and uploads nothing (a documented no-op: the desktop
-- has no platform account); record keeps the user log in memory (the last
-- 4 KB, as a module keeps), and dump hands it out as a module does: into
-- the zbuff (its cursor after the log), true when there was something not
-- read yet, and clears it when asked. The system log (crashes of the Lua
-- VM) stays empty: on the desktop they are printed instead.
local errdump = { TYPE_SYS = 0, TYPE_USR = 1 }

local LOG_MAX = 4096
local logs = { [0] = "", [1] = "" }
local unread = { [0] = false, [1] = false }

function errdump.config() end

function errdump.record(s)
    if type(s) ~= "string" or s == "" then return end
    local log = logs[1] .. s
    logs[1] = #log > LOG_MAX and log:sub(-LOG_MAX) or log
    unread[1] = true
end

function errdump.dump(buff, kind, delete)
    kind = kind == nil and errdump.TYPE_USR or kind
    if math.type(kind) ~= "integer" then
        error("bad argument #2 to 'dump' (number expected, got " .. type(kind) .. ")", 2)
    end
    if kind ~= 0 and kind ~= 1 then return true end   -- LuatOS: other types report true
    local fresh = unread[kind]
    if buff ~= nil then
        if type(buff) ~= "userdata" or not buff.seek then
            error("bad argument #1 to 'dump' (zbuff expected, got " .. type(buff) .. ")", 2)
        end
        local log = logs[kind]
        if #log > buff:len() then buff:resize(#log) end
        buff:seek(0)
        buff:write(log)
        unread[kind] = false
    end
    if delete == true then logs[kind], unread[kind] = "", false end
    return fresh
end

return errdump
