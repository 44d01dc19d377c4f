#!/usr/bin/env bash
# gameday's alert firing times against a real Prometheus, on killed, frozen and restarted
# targets: the oracle for gameday's rules when targets fail (issue 17, part 4).
#
#   bash ci/prometheus-e2e.sh                 # builds target/debug/gameday if needed
#   GAMEDAY=target/release/gameday OUT=out/pe SCENARIO=other-drills.toml bash ci/prometheus-e2e.sh
#
# 1. Starts the Midnight mock as its own process (ci/prometheus-e2e/mock.sh start:
#    `gameday mocks --only midnight --ports ephemeral --manifest FILE`) and sends it one
#    check, so the counter the absent() alert watches exists.
# 2. Exports the drill scenario's rules (`gameday rules export`), checks them with
#    `promtool check rules`, and starts `prometheus` on a free loopback port: scrape and
#    evaluation every 1 s (scrape timeout 1 s), one static target per manifest entry with
#    the label `service: <id>`, the exported rules as its rule file.
# 3. Runs `gameday drill ci/prometheus-e2e/drills.toml --target midnight=URL` against the
#    same process: its `command` faults freeze, kill and restart it (mock.sh).
# 4. Compares every firing episode of every alert in gameday's results.json with the
#    ALERTS series Prometheus recorded (ci/prometheus-e2e/compare.py): they must agree
#    within one scrape interval plus one evaluation interval (2 s). Writes
#    OUT/comparison.json next to gameday's results.json.
#
# Exit 0 agree; 1 disagree (or a drill failed); 3 the setup failed (no prometheus and
# cannot install it, a process did not start). Installs the Debian `prometheus` package
# (server and promtool) when missing and run as root. Bounded: every wait has a timeout
# (about 2 minutes in all, 4 at most); only the processes it started are stopped, by PID,
# on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-out/prometheus-e2e}"
scenario="${SCENARIO:-ci/prometheus-e2e/drills.toml}"
scrape_s=1 eval_s=1

fail() { echo "prometheus-e2e: $*" >&2; exit 3; }

if ! command -v prometheus >/dev/null || ! command -v promtool >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "installing: prometheus"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
    fi
    command -v prometheus >/dev/null && command -v promtool >/dev/null ||
        fail "prometheus and promtool are needed (Debian: apt-get install prometheus)"
fi
for tool in curl jq python3 setsid; do command -v "$tool" >/dev/null || fail "$tool is needed"; done

if [ -z "${GAMEDAY:-}" ]; then
    cargo build --quiet --bin gameday || fail "cannot build gameday"
    GAMEDAY="${CARGO_TARGET_DIR:-target}/debug/gameday"
fi
GAMEDAY=$(realpath "$GAMEDAY")
[ -x "$GAMEDAY" ] || fail "GAMEDAY=$GAMEDAY is not executable"
export GAMEDAY

PROM_E2E_DIR=$(mktemp -d "${TMPDIR:-/tmp}/prometheus-e2e.XXXXXX")
export PROM_E2E_DIR
dir=$PROM_E2E_DIR
prom_pid=""
cleanup() {
    local status=$?
    bash ci/prometheus-e2e/mock.sh stop || true
    if [ -n "$prom_pid" ] && kill -0 "$prom_pid" 2>/dev/null; then
        kill -TERM "$prom_pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$prom_pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$prom_pid" 2>/dev/null || true
    fi
    if [ "$status" -ne 0 ] && [ -f "$dir/prometheus.log" ]; then
        echo "--- prometheus log (last 20 lines)" >&2
        tail -20 "$dir/prometheus.log" >&2
    fi
    rm -rf "$dir"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 3' TERM INT

echo "== rules: gameday rules export $scenario; promtool check rules"
"$GAMEDAY" rules export "$scenario" --out "$dir/rules.yml" || fail "rules export failed"
promtool check rules "$dir/rules.yml" || fail "promtool rejects the exported rules"

echo "== mock: Midnight as its own process"
bash ci/prometheus-e2e/mock.sh start || fail "the mock did not start"
url=$(jq -r .midnight "$dir/manifest.json")
curl -fsS -m 10 -o /dev/null -X POST --data warm "$url/check" || fail "the warm-up check failed"
echo "midnight: $url (pid $(cat "$dir/midnight.pid"))"

echo "== prometheus on loopback, scraping the manifest's targets, loading the exported rules"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
prom="http://127.0.0.1:$port"
{
    cat <<YAML
global:
  scrape_interval: ${scrape_s}s
  scrape_timeout: ${scrape_s}s
  evaluation_interval: ${eval_s}s
rule_files:
  - $dir/rules.yml
scrape_configs:
  - job_name: gameday-mocks
    static_configs:
YAML
    # One target per manifest entry; the service id is the entry's name up to its first `-`.
    jq -r 'to_entries[] | "      - targets: [\"\(.value | sub("^https?://"; "") | sub("/.*$"; ""))\"]\n        labels:\n          service: \"\(.key | split("-")[0])\""' \
        "$dir/manifest.json"
} >"$dir/prometheus.yml"
promtool check config "$dir/prometheus.yml" >/dev/null || fail "promtool rejects $dir/prometheus.yml"
prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/tsdb" \
    --web.listen-address="127.0.0.1:$port" --log.level=warn >"$dir/prometheus.log" 2>&1 &
prom_pid=$!
up=""
for _ in $(seq 150); do
    up=$(curl -fsS -m 1 "$prom/api/v1/query?query=up" 2>/dev/null | jq -r '.data.result[0].value[1] // empty' || true)
    [ "$up" = 1 ] && break
    kill -0 "$prom_pid" 2>/dev/null || fail "prometheus exited"
    sleep 0.2
done
[ "$up" = 1 ] || fail "prometheus did not scrape the mock within 30 s"
echo "prometheus: $prom (pid $prom_pid)"

echo "== gameday drill $scenario --target midnight=$url"
mkdir -p "$out"
drill=0
# The load is 85 s; its drills' commands are bounded by their own timeouts.
timeout -k 5 200 "$GAMEDAY" drill "$scenario" --target "midnight=$url" --out "$out" --quiet || drill=$?
[ -f "$out/results.json" ] || fail "gameday wrote no results.json (exit $drill)"

echo "== firing times: gameday vs prometheus"
compare=0
python3 ci/prometheus-e2e/compare.py "$out/results.json" "$prom" "$out/comparison.json" \
    --scrape-s "$scrape_s" --eval-s "$eval_s" || compare=$?
echo "prometheus-e2e: drill exit $drill, comparison exit $compare; $out/results.json, $out/comparison.json"
[ "$compare" -ne 0 ] && exit "$compare"
[ "$drill" -ne 0 ] && exit 1
exit 0
