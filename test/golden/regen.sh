#!/bin/sh
# Regenerates test/golden/*/expected.txt in LuatOS's own VM (a session tool, never run by the tests or CI):
#   1. fetch github:openLuat/LuatOS (the session's fetch tool) -> GITDIR
#   2. LUATOS_GIT=GITDIR sh /work/shared/luatos-pc/build.sh      (LuatOS's PC build, luatos-lua)
#   3. sh test/golden/regen.sh GITDIR [NAME ...]                  (from the repository's top)
# Each script's output goes through test/golden/filter.lua; http_codes gets test/fixture_server.lua,
# its port in the VM's /golden_port. Review the diff before committing: expected.txt is LuatOS's word.
set -eu
G=${1:?usage: sh test/golden/regen.sh LUATOS_GITDIR [NAME ...]}; shift
PCDIR=${LUATOS_PC:-/tmp/luatos-pc}
RUN=${LUATOS_PC_RUN:-/work/shared/luatos-pc/run.sh}
COMMIT=$(git --git-dir="$G" rev-parse HEAD)
[ $# -gt 0 ] || set -- sys_timers sys_tasks json crypto zbuff string_ext fskv io_ext log_format rtos_shape http_codes
for name in "$@"; do
    dir=test/golden/$name
    srv=
    if [ "$name" = http_codes ]; then
        srv=$(mktemp -d)
        printf 'golden package bytes 0123456789' > "$srv/package.bin"
        lua5.3 test/fixture_server.lua "$srv" 60 >/dev/null 2>&1 &
        while [ ! -f "$srv/port" ]; do sleep 0.1; done
        mkdir -p "$PCDIR/run" && cp "$srv/port" "$PCDIR/run/golden_port"
    fi
    raw=$(T=${T:-30} sh "$RUN" "$dir/")
    [ -z "$srv" ] || { lua5.3 -e "local s = require('socket').connect('127.0.0.1', $(cat "$srv/port"))
        if s then s:send('GET /quit HTTP/1.1\r\n\r\n') s:receive('*a') s:close() end"; rm -rf "$srv"; }
    {
        echo "# Golden output of $dir/main.lua in LuatOS's own VM: its PC build (luatos-lua, /work/shared/luatos-pc)"
        echo "# at openLuat/LuatOS $COMMIT, through test/golden/filter.lua. Regenerate: test/golden/regen.sh."
        if [ -f "$dir/note.txt" ]; then sed 's/^/# /' "$dir/note.txt"; fi
        printf '%s\n' "$raw" | lua5.3 test/golden/filter.lua
    } > "$dir/expected.txt"
    echo "$dir/expected.txt: $(grep -vc '^#' "$dir/expected.txt") lines"
done
