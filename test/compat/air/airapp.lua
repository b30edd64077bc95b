--- The project's own library, a Lua 5.1 module as Air projects write them.
module(..., package.seeall)

local results = {}

--- update.request's callback: a package restarts the module into it.
function onResult(result)
    table.insert(results, result)
    log.info("air", "update result", table.getn(results), result)
    if result then
        sys.restart("air upgrade")
    elseif os.getenv("AIR_MODE") == "period" and table.getn(results) == 2 then
        -- while update waits out its period: asked again at once, with this callback
        sys.timerStart(update.request, 100, nil, os.getenv("AIR_URL2"))
    end
end

function describe()
    local first = unpack({ _NAME, _PACKAGE })
    return first .. " seeall " .. tostring(sys ~= nil) .. " own " .. tostring(rawget(_M, "sys") == nil)
end
