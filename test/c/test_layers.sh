#!/bin/sh
# The layering rule, checked on the includes: port <- core <- lua / tools /
# server / at. port/ includes only port/; core/ includes core/ and port/ and no
# Lua; nothing below lua/ includes lua/ or server/; no header circle.
set -eu
cd "$(dirname "$0")/../.."
fail=0
bad() { echo "layers: $*"; fail=1; }

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
for prog in "$@"; do
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
