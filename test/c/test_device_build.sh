#!/bin/sh
# The device build (cmake -DFOTA_DEVICE=ON) holds only what runs on a
# module: checked on what it compiled (compile_commands.json), on the
# headers each file included (the preprocessor, run again on each compile
# command) and on what the core library's objects call (nm).
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

# zlib: only the applier's version 2..4 deltas (delta.c) may call it, and
# with V5_ONLY nothing may, nor include zlib.h (the core inflates the
# package's script section itself and has its own CRC-32)
zsym=' U (inflate|deflate|crc32|adler32|compress|uncompress|z_|zError|zlibVersion|gz)'
zl=$(echo "$und" | grep -E "$zsym" | awk -F: '{print $2}' | sort -u | tr '\n' ' ')
echo "device build: zlib called by: ${zl:-nothing}"
echo "$und" | grep -E "$zsym" | grep -v ':delta\.c\.o:' && bad "calls zlib outside the delta applier"
if [ "$v5" = ON ]; then
    [ -n "$zl" ] && bad "calls zlib with FOTA_DELTA_V5_ONLY"
    # every file the build compiled, preprocessed again: the headers it read
    dir=$(dirname "$cc")
    deps=$(mktemp)
    trap 'rm -f "$deps" "$deps.d"' EXIT
    sed -n 's/^ *"command": *"\(.*\)",\{0,1\}$/\1/p' "$cc" | sed 's/\\"/"/g' |
        while IFS= read -r cmd; do
            # the same command, its dependencies to a file instead of an object
            cmd=$(echo "$cmd" | sed 's/ -o [^ ]* / -o \/dev\/null /')
            (cd "$dir" && eval "$cmd -M -MF '$deps.d'") || exit 1
            cat "$deps.d" >> "$deps"
        done || bad "cannot preprocess a compile command"
    rm -f "$deps.d"
    inc=$(awk '/^[^ ]+\.o:/ { t = $1 } /(^|[ \/])zlib\.h/ { print t }' "$deps" | sort -u | tr '\n' ' ')
    if [ -n "$inc" ]; then
        bad "includes zlib.h with FOTA_DELTA_V5_ONLY: $inc"
    else
        echo "device build: $(grep -cE '^[^ ]+\.o:' "$deps") compiled files, none includes zlib.h"
    fi
fi

[ "$fail" -eq 0 ] && echo "device build: the core alone, no host code, no zlib where V5_ONLY"
exit "$fail"
