#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster for tests and benches (issue 17):
#   bash test/pg/cluster.sh start STATE   initdb + pg_ctl start in a fresh temp dir on 127.0.0.1,
#                                         a free port; writes "URL" to STATE and the dir to STATE.dir
#   bash test/pg/cluster.sh stop STATE    stop it and remove the temp dir (safe to repeat)
#   bash test/pg/cluster.sh down|up STATE stop it / start it again on the same port and data
#                                         (the "PostgreSQL restarts mid-run" tests)
# PostgreSQL refuses to run as root, so as root the server runs as the `postgres` user.
set -euo pipefail
BIN=/usr/lib/postgresql/15/bin
cmd=${1:-}; state=${2:-}
[ -n "$state" ] || { echo "usage: cluster.sh start|stop STATEFILE" >&2; exit 2; }

as_pg() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

stop() {
    [ -f "$state.dir" ] || return 0
    local dir; dir=$(cat "$state.dir")
    case "$dir" in /tmp/fota-pg.*) ;; *) echo "cluster.sh: refusing to remove '$dir'" >&2; exit 1 ;; esac
    [ -d "$dir/data" ] && as_pg "$BIN/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    rm -f "$state" "$state.dir"
}

start() {
    [ -x "$BIN/initdb" ] || { echo "cluster.sh: $BIN/initdb missing (apt-get install postgresql)" >&2; exit 1; }
    stop
    local dir; dir=$(mktemp -d /tmp/fota-pg.XXXXXX)
    echo "$dir" > "$state.dir"
    [ "$(id -u)" -eq 0 ] && chown postgres "$dir"
    trap 'stop' ERR
    as_pg "$BIN/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; false; }
    local port tries=0
    while :; do
        port=$((20000 + RANDOM % 30000))
        # A port something already answers on is taken.
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            if as_pg "$BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
                -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=200" \
                start >/dev/null 2>&1; then
                break
            fi
        fi
        tries=$((tries + 1))
        [ $tries -lt 5 ] || { cat "$dir/server.log" >&2 2>/dev/null; false; }
    done
    echo "postgresql://postgres@127.0.0.1:$port/postgres" > "$state"
    trap - ERR
    cat "$state"
}

down() {
    as_pg "$BIN/pg_ctl" -D "$(cat "$state.dir")/data" -m fast -w stop >/dev/null
}

up() {
    local dir; dir=$(cat "$state.dir")
    local port; port=$(sed 's/.*:\([0-9]*\)\/.*/\1/' "$state")
    as_pg "$BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=200" start >/dev/null
}

case "$cmd" in
    start) start ;;
    down) down ;;
    up) up ;;
    stop) stop ;;
    *) echo "usage: cluster.sh start|stop STATEFILE" >&2; exit 2 ;;
esac
