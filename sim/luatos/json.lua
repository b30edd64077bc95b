--- json: LuatOS's json module on the desktop (built on dkjson).
-- json.decode returns obj, 1 on success and nil, 0, err on failure, as on a module.
local dkjson = require "dkjson"

local json = {}

function json.encode(v)
    return dkjson.encode(v)
end

function json.decode(s)
    if type(s) ~= "string" then return nil, 0, "string expected" end
    local obj, _, err = dkjson.decode(s, 1, nil)
    if err or obj == nil then return nil, 0, err or "empty" end
    return obj, 1
end

return json
