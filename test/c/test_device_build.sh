#!/bin/sh
# The device build (cmake -DFOTA_DEVICE=ON) holds only what runs on a
# module: checked on what it compiled (compile_commands.json) and on what
# the core library's objects call (nm).
#   test_device_build.sh COMPILE_COMMANDS LIBFOTACORE V5_ONLY(ON|OFF)
set -eu
cc=$1 lib=$2 v5=$3
fail=0
bad() { echo "device build: $*"; fail=1; }

# no host code, port implementation, Lua, server, tools or at/; no host library named
grep -E '"file": *"[^"]*/(lua_fota/(host|lua|port)|server|tools|at)/' "$cc" && bad "compiles more than the core"
grep -Ei 'divsufsort|libdeflate|zlib|lua5|port/sim' "$cc" && bad "names a host library or the simulator's port"

# nothing of the host is called: the generator's libraries, the fault injector, Lua
und=$(nm -A -u "$lib")
echo "$und" | grep -E ' U (divsufsort|libdeflate_|fota_fault_|fota_nor_|lua_|luaL_)' && bad "calls host code"
# V5_ONLY: the delta applier and its model call no zlib at all
if [ "$v5" = ON ]; then
    echo "$und" | grep -E ':(delta|delta_model)\.c\.o: *U (inflate|deflate|crc32|adler32|z_|zError)' &&
        bad "the version-5 applier calls zlib"
fi
# what still calls zlib, said once (pkg.c: the script section; slots.c: the boot record's CRC-32)
zl=$(echo "$und" | grep -E ' U (inflate|deflate|crc32|adler32)' | awk -F: '{print $2}' | sort -u | tr '\n' ' ')
echo "device build: zlib called by: ${zl:-nothing}"

[ "$fail" -eq 0 ] && echo "device build: the core alone, no host code"
exit "$fail"
