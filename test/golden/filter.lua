-- The filter both sides of a golden comparison go through (LuatOS's PC VM when expected.txt is made,
-- bin/luatos-sim in test/golden_spec.lua). It keeps what the script itself prints and logs:
--   1. the time prefix of a line is cut: LuatOS's PC build "[2026-12-07 18:07:40.409][00000000.012] ",
--      luatos-sim's "[00000.300] ";
--   2. lines of the firmware or simulator itself are dropped: log lines whose tag is not "user.*"
--      (LuatOS's C modules: "I/main", "W/pc", "D/vfs", "I/http", ...) and luatos-sim's own
--      "I/user.sim ..." and "luatos-sim: ..." lines, and the PC build's "luat_heap_realloc: ..." notice;
--   3. a script's place in an error message is its file name: LuatOS's chunk name
--      '[string "main.lua"]:52' and luatos-sim's host path '/tmp/.../run/main.lua:52' (or Lua's shortened
--      '...dev/run/main.lua:52') both become 'main.lua:52'.
-- Command line: lua5.3 test/golden/filter.lua < raw-output > filtered
local M = {}

function M.line(l)
    l = l:gsub("\r$", "")
    l = l:gsub("^%[%d%d%d%d%-%d%d%-%d%d %d%d:%d%d:%d%d%.%d%d%d%]%[%d+%.%d+%] ", "", 1)
    l = l:gsub("^%[%d+%.%d%d%d%] ", "", 1)
    if l:match("^luatos%-sim:") or l:match("^[DIWE]/user%.sim ") then return nil end
    if l:match("^luat_heap_realloc: ") then return nil end   -- the PC build's heap notice (an address)
    local tag = l:match("^[DIWE]/(%S+)")
    if tag and not tag:match("^user%.") then return nil end
    l = l:gsub('%[string "([^"]+)"%]:(%d+)', "%1:%2")
    l = l:gsub("[^%s:<]*/run/([^/%s:<]+%.lua):(%d+)", "%1:%2")
    return l
end

--- The filtered lines of a whole output (a list).
function M.lines(text)
    local out = {}
    for l in (text .. "\n"):gmatch("([^\n]*)\n") do
        local f = M.line(l)
        if f then out[#out + 1] = f end
    end
    while out[#out] == "" do out[#out] = nil end
    return out
end

if arg and arg[0] and arg[0]:match("filter%.lua$") then
    for _, l in ipairs(M.lines(io.read("a"))) do print(l) end
end

return M
