-- The fixtures of test_delta_device: a 4 KiB Cortex-M-like image (Thumb-ish
-- code, literal pools of absolute addresses at 0x08000000) and a new build
-- with 64 bytes of code inserted in the middle (bench/delta's firmware pair,
-- scaled down). Made once with
--   lua5.3 test/c/data/fw.lua fw0.bin fw1.bin
--   fotapack delta --format 5 fw0.bin fw1.bin fw1.v5.lfdl   (and --format 3)
-- A generator change that alters these deltas changes every delta.
local function build(path, insert)
    local seed = 12345
    local function rnd(n) seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n end
    local base, parts, size = 0x08000000, {}, 0
    local function emit(s) parts[#parts + 1] = s; size = size + #s end
    local shift_at, shift = 0x800, insert and 64 or 0
    local function addr(a) return a >= base + shift_at and a + shift or a end
    for _ = 1, 16 do emit(string.pack("<I4", addr(base + 0x400 + rnd(0xF00)) | 1)) end
    local funcs = 0
    while size < 0xF00 do
        if insert and size >= shift_at and funcs >= 0 then
            for _ = 1, 16 do emit(string.pack("<I4", 0xF000F800 + rnd(4096))) end
            funcs = -1
        end
        local body = {}
        for _ = 1, 8 + rnd(40) do body[#body + 1] = string.pack("<I2", 0x4600 + rnd(0x800)) end
        emit(table.concat(body))
        for _ = 1, 1 + rnd(4) do emit(string.pack("<I4", addr(base + rnd(0xF00)))) end
        if funcs >= 0 then funcs = funcs + 1 end
    end
    emit(string.rep("LuatOS-SoC V110" .. (insert and "4" or "3") .. " EC618\0", 8))
    local f = assert(io.open(path, "wb"))
    f:write(table.concat(parts))
    f:close()
end
build(arg[1], false)
build(arg[2], true)
