#!/usr/bin/env bash
# The Midnight mock of ci/prometheus-e2e.sh as its own process, and the faults its drills
# inject into it. Run by the script (start, stop) and by the drills' `command` faults
# (freeze, thaw, kill, restart, bounce), which inherit PROM_E2E_DIR and GAMEDAY from it.
#
#   mock.sh start     start on a free port (writes midnight.pid, manifest.json, port)
#   mock.sh freeze    SIGSTOP it           mock.sh thaw      SIGCONT it
#   mock.sh kill      SIGKILL it, wait until it is gone
#   mock.sh restart   start it again on the same port unless it is running (idempotent)
#   mock.sh bounce    kill + restart at once (a restart between two scrapes)
#   mock.sh stop      SIGCONT + SIGTERM, SIGKILL after 5 s
#
# Only the PID this script started (PROM_E2E_DIR/midnight.pid) is ever signalled.
set -euo pipefail
dir="${PROM_E2E_DIR:?PROM_E2E_DIR: the state directory of ci/prometheus-e2e.sh}"
gameday="${GAMEDAY:?GAMEDAY: the gameday binary}"
profile="$(dirname "$0")/midnight.toml"
pidfile="$dir/midnight.pid"

pid() { cat "$pidfile" 2>/dev/null || true; }
# Running: it exists and is not a zombie (an orphan waits for PID 1 to reap it).
running() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]; }
alive() { running "$(pid)"; }

# Waits (at most 10 s) until /health answers 200.
wait_healthy() {
    local url=$1
    for _ in $(seq 100); do
        curl -fsS -m 1 -o /dev/null "$url/health" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "mock.sh: the mock did not answer $url/health within 10 s (log: $dir/mock.log)" >&2
    return 1
}

# Starts the mock detached (its own session, output to a file, so a drill command that
# runs this returns at once), on PORT or on a free port when PORT is empty.
launch() {
    local port=$1 args=(mocks --only midnight --profile "$profile" --manifest "$dir/manifest.json")
    [ -z "$port" ] || args+=(--port "midnight=$port")
    rm -f "$dir/manifest.json"
    setsid "$gameday" "${args[@]}" >>"$dir/mock.log" 2>&1 </dev/null &
    echo $! >"$pidfile"
    for _ in $(seq 100); do
        [ -s "$dir/manifest.json" ] && break
        alive || { echo "mock.sh: the mock exited (log: $dir/mock.log)" >&2; return 1; }
        sleep 0.1
    done
    local url
    url=$(jq -r '.midnight // empty' "$dir/manifest.json" 2>/dev/null || true)
    [ -n "$url" ] || { echo "mock.sh: no manifest within 10 s (log: $dir/mock.log)" >&2; return 1; }
    echo "${url##*:}" >"$dir/port"
    wait_healthy "$url"
}

kill_wait() {
    local p; p=$(pid)
    [ -n "$p" ] || return 0
    kill -KILL "$p" 2>/dev/null || true
    for _ in $(seq 50); do running "$p" || return 0; sleep 0.1; done
    echo "mock.sh: pid $p still alive 5 s after SIGKILL" >&2
    return 1
}

case "${1:-}" in
    start) launch "" ;;
    freeze) kill -STOP "$(pid)" ;;
    thaw) kill -CONT "$(pid)" ;;
    kill) kill_wait ;;
    restart) alive || launch "$(cat "$dir/port")" ;;
    bounce) kill_wait && launch "$(cat "$dir/port")" ;;
    stop)
        p=$(pid)
        if running "$p"; then
            kill -CONT "$p" 2>/dev/null || true
            kill -TERM "$p" 2>/dev/null || true
            for _ in $(seq 50); do running "$p" || exit 0; sleep 0.1; done
            kill -KILL "$p" 2>/dev/null || true
        fi
        ;;
    *) echo "usage: mock.sh start|freeze|thaw|kill|restart|bounce|stop" >&2; exit 2 ;;
esac
