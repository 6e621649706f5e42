#!/usr/bin/env bash
# Start a throwaway Redis server on loopback for the hosted-mode tests, and print its URL.
#
#   eval "$(scripts/redis_test_server.sh start)"   # exports KEYFOLIO_TEST_REDIS_URL
#   scripts/redis_test_server.sh stop
#
# Installs Debian's redis-server package when the binary is missing. The server listens on
# 127.0.0.1 only, on a free port, without persistence (its directory is deleted on stop).
set -euo pipefail

STATE_FILE="${TMPDIR:-/tmp}/keyfolio-redis-test.env"

start() {
    if ! command -v redis-server >/dev/null 2>&1; then
        local sudo=""
        [ "$(id -u)" -eq 0 ] || sudo=sudo
        $sudo apt-get install -y -q redis-server >&2 || { $sudo apt-get update -q >&2 && $sudo apt-get install -y -q redis-server >&2; }
    fi
    local data port
    data=$(mktemp -d "${TMPDIR:-/tmp}/keyfolio-redis.XXXXXX")
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    redis-server --bind 127.0.0.1 --port "$port" --dir "$data" --save '' --appendonly no \
        --daemonize yes --pidfile "$data/redis.pid" --logfile "$data/log" >&2
    # Ready when it answers PING (daemonize returns before it listens).
    for _ in $(seq 1 100); do
        if redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1; then break; fi
        sleep 0.05
    done
    redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null
    echo "KEYFOLIO_REDIS_DATA=$data" >"$STATE_FILE"
    echo "KEYFOLIO_REDIS_PORT=$port" >>"$STATE_FILE"
    echo "export KEYFOLIO_TEST_REDIS_URL=redis://127.0.0.1:$port/0"
}

stop() {
    [ -f "$STATE_FILE" ] || return 0
    # shellcheck disable=SC1090
    . "$STATE_FILE"
    redis-cli -h 127.0.0.1 -p "$KEYFOLIO_REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
    rm -rf "$KEYFOLIO_REDIS_DATA" "$STATE_FILE"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
