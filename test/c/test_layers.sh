#!/bin/sh
# The layering rule, checked on the includes: port <- core <- lua / tools /
# server / at. port/ includes only port/; core/ includes core/ and port/ and no
# Lua; nothing below lua/ includes lua/ or server/; no header circle. A device
# build (FOTA_NO_HOST) of the binding reads no host/ header and the device
# image's Makefile compiles no host/ source.
#   test_layers.sh [PROGRAM...] [--host-lib LIBFOTAHOST --device IMAGE.elf...]
# PROGRAMs (the tools, the server) must link no simulated storage; with
# --device, only this: no IMAGE may define a global symbol LIBFOTAHOST
# (lua_fota/host) defines.
set -eu
cd "$(dirname "$0")/../.."
fail=0
bad() { echo "layers: $*"; fail=1; }
progs="" hostlib="" devices=""
while [ $# -gt 0 ]; do
    case $1 in
    --host-lib) hostlib=$2; shift 2 ;;
    --device) shift; devices="$*"; break ;;
    *) progs="$progs $1"; shift ;;
    esac
done

# --device: only the images (the device phase; ctest checks the rest)
if [ -n "$devices" ]; then
    [ -f "$hostlib" ] || bad "--device needs --host-lib LIBFOTAHOST"
    hs=$(mktemp)
    nm -g --defined-only "$hostlib" 2>/dev/null | awk 'NF == 3 { print $3 }' | sort -u >"$hs"
    [ -s "$hs" ] || bad "$hostlib: no symbols"
    for img in $devices; do
        found=$(arm-none-eabi-nm --defined-only "$img" | awk 'NF == 3 { print $3 }' | sort -u | comm -12 "$hs" -)
        [ -z "$found" ] || bad "$img: holds host code: $(echo "$found" | tr '\n' ' ')"
    done
    rm -f "$hs"
    [ "$fail" -eq 0 ] && echo "layers: device images $devices hold no symbol of $hostlib"
    exit "$fail"
fi

# port/ includes only port/ and the error codes it returns (core/fota_err.h, a leaf)
for f in lua_fota/port/*.[ch] lua_fota/port/*/*.[ch]; do
    grep -Hn '#include "' "$f" | grep -v '#include "\(port/\|core/fota_err.h"\)' && bad "$f: port/ includes only port/ and core/fota_err.h"
done
# above the port, only its interface: which port a program has is the link's choice
for f in lua_fota/lua/*.[ch] sim/c/*.[ch] tools/*.c at/*.[ch] server/*.[ch]; do
    grep -Hn '#include "port/[a-z_]*/' "$f" && bad "$f: includes a port's own files (only port/*.h)"
done
# the real ports know nothing of the simulated one
for f in lua_fota/port/posix/*.[ch]; do
    grep -Hn '#include "port/sim/' "$f" && bad "$f: port/posix/ does not use port/sim/"
done
# programs given as arguments (the tools, the server) link no simulated storage
for prog in $progs; do
    nm "$prog" | grep -q ' [TtDdBb] \(fota_fault_\|fota_nor_\)' && bad "$prog: links the power-cut injector or the NOR model"
done
for f in lua_fota/core/*.[ch]; do
    grep -Hn '#include "\(lua\|server\)/\|#include <lua\|#include <lauxlib' "$f" && bad "$f: core/ must not use Lua or the layers above it"
    grep -Hn '#include "' "$f" | grep -v '#include "\(core/\|port/[a-z_]*\.h"\)' && bad "$f: core/ includes only core/ and the port's interface headers"
done
# core/ runs on a module: never the host's writers nor the simulator's port;
# host/ builds on core/ and the port's interface only
for f in lua_fota/core/*.[ch]; do
    grep -Hn '#include "\(host\|port/sim\)/' "$f" && bad "$f: core/ never includes host/ or port/sim/"
done
for f in lua_fota/host/*.[ch]; do
    grep -Hn '#include "' "$f" | grep -v '#include "\(host/\|core/\|port/[a-z_]*\.h"\)' &&
        bad "$f: host/ includes only host/, core/ and the port's interface headers"
done
# the staging area is core's: above it, only its functions (core/stage.h, core/download.h)
for f in lua_fota/lua/*.[ch] sim/c/*.[ch] tools/*.c at/*.[ch] server/*.[ch]; do
    grep -Hn '[a-z_>]stage\(\.\|->\)[a-z_]' "$f" | grep -v 'stage\.\(h\|bin\)' && bad "$f: reads fota_stage's fields"
done
for f in lua_fota/lua/*.[ch] sim/c/*.[ch] tools/*.c at/*.[ch]; do
    grep -Hn '#include "server/\|#include "srv.h"' "$f" && bad "$f: the binding and the tools do not use the server"
done

# The device build of the binding: no host/ header with FOTA_NO_HOST (the
# preprocessor's own list of what each file reads), and the image's Makefile
# defines it and compiles nothing of host/
luainc=$(pkg-config --cflags lua5.3 2>/dev/null || echo -I/usr/include/lua5.3)
for f in lua_fota/lua/*.c; do
    # shellcheck disable=SC2086
    deps=$(${CC:-cc} -std=c11 -D_POSIX_C_SOURCE=200809L -DFOTA_NO_HOST -DFOTA_DELTA_V5_ONLY -Ilua_fota $luainc \
        -MM "$f") || { bad "$f: cannot preprocess with FOTA_NO_HOST"; continue; }
    echo "$deps" | grep -q 'lua_fota/host/' && bad "$f: reads a host/ header with FOTA_NO_HOST"
done
mk=device/mps2-an385/Makefile
grep -q -- '-DFOTA_NO_HOST' "$mk" || bad "$mk: the device image must define FOTA_NO_HOST"
grep -n 'lua_fota/host' "$mk" && bad "$mk: compiles host code into the device image"
# No circle among the project's headers: repeatedly drop headers that
# include no remaining project header; what is left is in, or above, a circle.
tmp=$(mktemp)
for h in lua_fota/*/*.h lua_fota/port/*/*.h; do
    rel=${h#lua_fota/}
    deps=$(sed -n 's/^#include "\(\(core\|host\|port\|lua\)\/[^"]*\)".*/\1/p' "$h" | tr '\n' ' ')
    echo "$rel: $deps" >>"$tmp"
done
left=$(awk -F': ' '
    { n[$1] = $2; all[$1] = 1 }
    END {
        do {
            changed = 0
            for (h in all) {
                split(n[h], d, " "); ok = 1
                for (i in d) if (d[i] in all) { ok = 0; break }
                if (ok) { delete all[h]; changed = 1 }
            }
        } while (changed)
        for (h in all) printf "%s ", h
    }' "$tmp")
rm -f "$tmp"
[ -z "$left" ] || bad "include circle among: $left"

[ "$fail" -eq 0 ] && echo "layers: port <- core <- host <- lua/sim/tools/server/at, no circle"
exit "$fail"
