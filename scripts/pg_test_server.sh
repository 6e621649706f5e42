#!/usr/bin/env bash
# Start a throwaway PostgreSQL server on loopback for the storage tests, and print its URL.
#
#   eval "$(scripts/pg_test_server.sh start)"   # exports KEYFOLIO_TEST_PG_URL
#   scripts/pg_test_server.sh stop
#
# Installs Debian's postgresql package when its server binaries are missing. The cluster lives
# in a temporary directory owned by the `postgres` user (the server refuses to run as root) and
# listens on 127.0.0.1 only, on a free port, without fsync (it is deleted on stop).
set -euo pipefail

STATE_FILE="${TMPDIR:-/tmp}/keyfolio-pg-test.env"

pg_bin() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
    echo "$dir"
}

as_pg() {
    if [ "$(id -u)" -eq 0 ]; then
        su postgres -s /bin/sh -c "cd / && $*"
    else
        sh -c "$*"
    fi
}

start() {
    local bin
    bin=$(pg_bin)
    if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
        local sudo=""
        [ "$(id -u)" -eq 0 ] || sudo=sudo
        $sudo apt-get install -y -q postgresql >&2 || { $sudo apt-get update -q >&2 && $sudo apt-get install -y -q postgresql >&2; }
        bin=$(pg_bin)
    fi
    local data port
    data=$(mktemp -d "${TMPDIR:-/tmp}/keyfolio-pg.XXXXXX")
    [ "$(id -u)" -ne 0 ] || chown postgres "$data"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    as_pg "'$bin/initdb' -D '$data/db' -U keyfolio --auth=trust -E UTF8 >/dev/null"
    # A throwaway cluster: no fsync (a crash loses nothing worth keeping; every CREATE DATABASE
    # and commit of the tests would otherwise wait for the disk).
    local opts="-c listen_addresses=127.0.0.1 -p $port -k '$data' -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    as_pg "'$bin/pg_ctl' -D '$data/db' -l '$data/log' -w -o \"$opts\" start >/dev/null"
    echo "KEYFOLIO_PG_DATA=$data" >"$STATE_FILE"
    echo "KEYFOLIO_PG_BIN=$bin" >>"$STATE_FILE"
    echo "export KEYFOLIO_TEST_PG_URL=postgresql+psycopg://keyfolio@127.0.0.1:$port/postgres"
}

stop() {
    [ -f "$STATE_FILE" ] || return 0
    # shellcheck disable=SC1090
    . "$STATE_FILE"
    as_pg "'$KEYFOLIO_PG_BIN/pg_ctl' -D '$KEYFOLIO_PG_DATA/db' -m fast stop >/dev/null" || true
    rm -rf "$KEYFOLIO_PG_DATA" "$STATE_FILE"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
