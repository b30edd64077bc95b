--- compat51: Lua 5.1's names on Lua 5.3. LuatOS builds its Lua 5.3 with
-- LUA_COMPAT_5_1 (unpack, loadstring, table.maxn, package.loaders, module
-- and package.seeall exist on a module; Debian's lua5.3 has only the 5.2
-- set): install_luatos, by the boot (sim/luatos/boot.lua). LuatOS-Air is
-- Lua 5.1 itself and has table.getn too: install, by the Air boot.
local M = {}

-- The table for a dotted name under root, made on the way as module() does.
local function find_table(root, name)
    local t = root
    for part in name:gmatch("[^%.]+") do
        local v = rawget(t, part)
        if v == nil then
            v = {}
            rawset(t, part, v)
        elseif type(v) ~= "table" then
            error("name conflict for module '" .. name .. "'", 3)
        end
        t = v
    end
    return t
end

-- Sets the environment of the function at stack level `level` (its _ENV
-- upvalue), as Lua 5.1's setfenv: the chunk and every closure made in it
-- share that upvalue, so its later globals are the module's fields.
local function set_env(level, env)
    local info = debug.getinfo(level + 1, "f")
    local fn = info and info.func
    if not fn then return end
    for i = 1, math.huge do
        local name = debug.getupvalue(fn, i)
        if name == nil then return end
        if name == "_ENV" then
            debug.upvaluejoin(fn, i, function() return env end, 1)
            return
        end
    end
end

--- Lua 5.1's module(name, ...): the module table is package.loaded[name]
-- (else the global of that dotted name, else a new table), with _M,
-- _NAME and _PACKAGE; it becomes the calling chunk's environment; each
-- function argument is applied to it (package.seeall). Lua 5.3's require
-- passes the file name after the module name: arguments that are not
-- functions are skipped.
function M.module(name, ...)
    if type(name) ~= "string" then
        error("bad argument #1 to 'module' (string expected, got " .. type(name) .. ")", 2)
    end
    local t = package.loaded[name]
    if type(t) ~= "table" then
        t = find_table(_G, name)
        package.loaded[name] = t
    end
    if t._NAME == nil then
        t._M, t._NAME = t, name
        t._PACKAGE = name:match("^(.*%.)") or ""
    end
    set_env(2, t)
    for i = 1, select("#", ...) do
        local opt = select(i, ...)
        if type(opt) == "function" then opt(t) end
    end
    return t
end

--- package.seeall(m): m's missing fields are looked up in _G.
function M.seeall(t)
    if type(t) ~= "table" then
        error("bad argument #1 to 'seeall' (table expected, got " .. type(t) .. ")", 2)
    end
    local mt = getmetatable(t) or {}
    mt.__index = _G
    setmetatable(t, mt)
end

--- table.getn(t): the length, as #t.
function M.getn(t)
    if type(t) ~= "table" then
        error("bad argument #1 to 'getn' (table expected, got " .. type(t) .. ")", 2)
    end
    return #t
end

--- table.maxn(t): the largest positive numeric key, 0 when none.
function M.maxn(t)
    if type(t) ~= "table" then
        error("bad argument #1 to 'maxn' (table expected, got " .. type(t) .. ")", 2)
    end
    local n = 0
    for k in pairs(t) do
        if type(k) == "number" and k > n then n = k end
    end
    return n
end

--- What Lua 5.3 built with LUA_COMPAT_5_1 has, into env (_G).
function M.install_luatos(env)
    env = env or _G
    env.module = M.module
    env.package.seeall = M.seeall
    env.unpack = env.unpack or table.unpack
    env.loadstring = env.loadstring or load
    env.table.maxn = env.table.maxn or M.maxn
    env.package.loaders = env.package.loaders or package.searchers
end

--- LuatOS-Air's Lua 5.1: the above and table.getn.
function M.install(env)
    env = env or _G
    M.install_luatos(env)
    env.table.getn = M.getn
end

return M
