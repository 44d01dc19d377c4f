#!/usr/bin/env bash
# gameday side by side with wrk, plain goose and a bare hyper server, on this machine,
# back to back and alternating, N rounds each; prints a table of medians and ratios.
#
# Usage: bash ci/bench-compare.sh [--quick] [--dev] [--rounds N] [--long-seconds S]
#                                 [--stall-seconds S] [--out FILE]
#   --quick           the CI setting: 1 round, short durations (about 2 minutes)
#   --dev             use the dev-profile binaries (what `cargo test` builds; optimised at
#                     opt-level 1/2) instead of a release build: `.ci/run` uses it with
#                     --quick to keep the script working without a 15-minute release
#                     build; its figures are not the published ones
#   --rounds N        rounds per comparison (default 3)
#   --long-seconds S  length of the memory run (d) (default 600; 20 with --quick)
#   --stall-seconds S length of the latency-spike run (e) (default 600; 60 with --quick)
#   --out FILE        also write the table (markdown) to FILE
#   --only LIST       run only these measures, comma-separated letters (e.g. --only a,e)
#
# Measures (all traffic on 127.0.0.1):
#   (a) GET /health of the Midnight mock vs a bare hyper hello-world (and a bare axum one,
#       the mocks' framework alone), all driven by wrk, with each server's CPU per request;
#   (b) gameday's highest valid open-model rate (no `generator saturated` verdict) on the
#       mock's /health vs plain goose closed-loop maximum vs wrk on the same endpoint;
#   (c) latency accuracy: POST /attestation with a fixed 10 ms service time at 500/s,
#       gameday's p50/p99 vs wrk's on the same route (10 ms + loopback overhead): the
#       difference is the latency the harness adds;
#   (d) peak RSS of a long open-model run (and its RSS at 25% vs the end), and wall time
#       and peak RSS of the four-week Midnight plan;
#   (e) memory under latency spikes: an open-model run at 1000/s against the Midnight mock,
#       which this script stops (SIGSTOP) for 1 s every 10 s, so ~1000 requests pile up
#       in flight each time (more users busy, more connections); peak RSS, and RSS at
#       minute 2 (a third of the run when shorter than 6 minutes) vs the end.
#
# It never fails on noise: figures are reported, not judged. It exits non-zero only when
# something could not run (build, a missing tool, a server that did not start).
set -uo pipefail
cd "$(dirname "$0")/.."

ROUNDS=3 QUICK=0 DEV=0 LONG_S="" STALL_S="" OUT="" ONLY=a,b,c,d,e
while (($#)); do
    case "$1" in
        --quick) QUICK=1 ROUNDS=1 ;;
        --dev) DEV=1 ;;
        --rounds) ROUNDS="$2"; shift ;;
        --long-seconds) LONG_S="$2"; shift ;;
        --stall-seconds) STALL_S="$2"; shift ;;
        --out) OUT="$2"; shift ;;
        --only) ONLY="$2"; shift ;;
        -h|--help) sed -n '2,34p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
    shift
done
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || { echo "--rounds takes a whole number of at least 1, not '$ROUNDS'" >&2; exit 2; }
[[ -z "$LONG_S" || "$LONG_S" =~ ^[1-9][0-9]*$ ]] || { echo "--long-seconds takes a whole number of seconds, not '$LONG_S'" >&2; exit 2; }
[[ -z "$STALL_S" || "$STALL_S" =~ ^[1-9][0-9]*$ ]] || { echo "--stall-seconds takes a whole number of seconds, not '$STALL_S'" >&2; exit 2; }
[[ "$ONLY" =~ ^[a-e](,[a-e])*$ ]] || { echo "--only takes letters a to e separated by commas, not '$ONLY'" >&2; exit 2; }
if ((QUICK)); then
    THR_S=3 GEN_S=3 LAT_S=5 GOOSE_S=4
    LONG_S=${LONG_S:-20}
    STALL_S=${STALL_S:-60}
    RATES=(2000 5000 10000 20000 40000)
else
    THR_S=10 GEN_S=8 LAT_S=20 GOOSE_S=10
    LONG_S=${LONG_S:-600}
    STALL_S=${STALL_S:-600}
    RATES=(2000 5000 10000 15000 20000 30000 40000 60000 80000)
fi
LONG_RATE=${LONG_RATE:-5000}
CONNS=50

die() { echo "bench-compare: $*" >&2; exit 1; }
wanted() { [[ ",$ONLY," == *",$1,"* ]]; }
log() { echo "-- $*" >&2; }

# ---- tools ------------------------------------------------------------------------
command -v python3 >/dev/null || die "python3 is needed (JSON and medians)"
[ -x /usr/bin/time ] || die "/usr/bin/time is needed (peak RSS); apt-get install time"
if ! command -v wrk >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        log "installing wrk"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk >/dev/null
    fi
    command -v wrk >/dev/null || die "wrk is missing and could not be installed (Debian package wrk)"
fi

if ((DEV)); then
    log "building dev-profile binaries"
    cargo build -q -p gameday -p gameday-benches --bins || die "build failed"
    BIN=${CARGO_TARGET_DIR:-target}/debug
else
    log "building release binaries"
    cargo build --release -q -p gameday -p gameday-benches --bins || die "release build failed"
    BIN=${CARGO_TARGET_DIR:-target}/release
fi
GAMEDAY=$BIN/gameday

WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

median() { python3 -c 'import sys,statistics as s; v=[float(x) for x in sys.argv[1:] if x not in ("","nan")]; print(f"{s.median(v):.6g}" if v else "nan")' "$@"; }
ratio() { python3 -c 'import sys; a,b=sys.argv[1:]; print(f"{float(a)/float(b):.2f}" if a not in ("nan","") and b not in ("nan","","0") and float(b)!=0 else "nan")' "$1" "$2"; }

# Starts the Midnight mock (extra arguments: e.g. --profile FILE); sets URL.
start_mock() {
    local manifest="$WORK/manifest-$RANDOM.json"
    "$GAMEDAY" mocks --only midnight --manifest "$manifest" "$@" >"$WORK/mock.log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 100); do
        [ -s "$manifest" ] && break
        sleep 0.1
    done
    URL=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["midnight"])' "$manifest" 2>/dev/null) \
        || die "the Midnight mock did not start: $(tail -3 "$WORK/mock.log")"
}

# Starts a baseline server from benches/src/bin (hello: bare hyper; axum_hello: bare
# axum); sets URL.
start_baseline() {
    "$BIN/$1" >"$WORK/$1.out" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 50); do
        [ -s "$WORK/$1.out" ] && break
        sleep 0.1
    done
    URL=$(head -1 "$WORK/$1.out")
    [[ "$URL" == http://* ]] || die "$1 server did not start"
}

# CPU time (user + system) a process has used, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo nan; }
# Microseconds of CPU per request: ticks_before ticks_after requests.
us_per() { python3 -c 'import sys; a,b,n,hz=sys.argv[1:]; print(f"{(float(b)-float(a))*1e6/float(hz)/float(n):.2f}" if "nan" not in (a,b,n) and float(n)>0 else "nan")' "$1" "$2" "$3" "$(getconf CLK_TCK)"; }

# The deepest first-child descendant of a process (the program under time/timeout).
leaf() {
    local p=$1 c
    while c=$(pgrep -P "$p" | head -1) && [ -n "$c" ]; do p=$c; done
    echo "$p"
}

stop_last() { local p=${PIDS[-1]}; kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; unset 'PIDS[-1]'; }

# wrk requests/s (and with --latency, p50/p99 in ms): prints "rps p50 p99".
wrk_run() {
    local out
    out=$(timeout $(($2 + 30)) wrk --latency "${@:3}" -d"$2"s "$1" 2>&1) || { echo "nan nan nan"; return; }
    python3 - "$out" <<'PY'
import re, sys
t = sys.argv[1]
def ms(v, u): return float(v) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[u]
rps = re.search(r"Requests/sec:\s+([\d.]+)", t)
p = {q: re.search(rf"^\s+{q}%\s+([\d.]+)(us|ms|s)\s*$", t, re.M) for q in ("50", "99")}
f = lambda m: f"{ms(*m.groups()):.4f}" if m else "nan"
print(rps.group(1) if rps else "nan", f(p["50"]), f(p["99"]))
PY
}

# One `gameday run` of a bench scenario: prints "exit achieved_rate saturated p50 p99
# cpu_us_per_request" (the generator's own CPU, user + system, per request sent).
gameday_run() { # scenario rate duration url
    local scen="$WORK/$(basename "$1" .toml)-$2.toml" dir="$WORK/out-$RANDOM" code
    sed -e "s/@RATE@/$2/; s/@DURATION@/$3/" "$1" >"$scen"
    /usr/bin/time -f '%U %S' -o "$WORK/run.cpu" timeout $((${3%s} + 60)) "$GAMEDAY" run "$scen" \
        --target "midnight=$4" --out "$dir" -q >"$WORK/run.log" 2>&1
    code=$?
    python3 - "$dir/results.json" "$code" "$WORK/run.cpu" <<'PY'
import json, sys
code = sys.argv[2]
try:
    user, system = open(sys.argv[3]).read().split()[-2:]
    cpu_s = float(user) + float(system)
except Exception:
    cpu_s = None
try:
    d = json.load(open(sys.argv[1]))
except Exception:
    print(code, "nan", "true", "nan", "nan", "nan"); sys.exit()
g = d.get("generator") or {}
lat = (d.get("requests") or [{}])[0].get("latency_ms") or {}
sent = g.get("sent") or 0
per = f"{cpu_s * 1e6 / sent:.2f}" if cpu_s is not None and sent else "nan"
print(code, g.get("achieved_rate", "nan"), str(g.get("saturated", code == "3")).lower(), lat.get("p50", "nan"), lat.get("p99", "nan"), per)
PY
}

ROWS=()
row() { ROWS+=("$(printf '| %s | %s | %s | %s | %s |' "$@")"); }

# ---- (a) mock /health vs bare hyper (and bare axum, to split the gap) -------------------
measure_a() {
    log "(a) /health throughput: Midnight mock vs bare hyper vs bare axum, wrk -c$CONNS, ${THR_S}s x $ROUNDS rounds"
    declare -gA RPS CPU
    for r in $(seq "$ROUNDS"); do
        order=(mock hello axum_hello); ((r % 2 == 0)) && order=(axum_hello hello mock)
        for who in "${order[@]}"; do
            if [ "$who" = mock ]; then start_mock; else start_baseline "$who"; fi
            pid=${PIDS[-1]} t0=$(cpu_ticks "${PIDS[-1]}")
            read -r rps _ _ < <(wrk_run "$URL/health" "$THR_S" -t2 -c"$CONNS")
            us=$(us_per "$t0" "$(cpu_ticks "$pid")" "$(python3 -c "print(float('$rps') * $THR_S)" 2>/dev/null || echo nan)")
            stop_last
            log "   round $r $who: $rps req/s, server CPU $us us/request"
            RPS[$who]+=" $rps" CPU[$who]+=" $us"
        done
    done
    m=$(median ${RPS[mock]}) h=$(median ${RPS[hello]}) x=$(median ${RPS[axum_hello]})
    mc=$(median ${CPU[mock]}) hc=$(median ${CPU[hello]}) xc=$(median ${CPU[axum_hello]})
    row "(a) mock /health throughput (wrk)" "$m req/s" "bare hyper $h req/s" "$(ratio "$m" "$h")x" ">= 0.9x"
    row "(a) bare axum /health (the mocks' framework)" "$x req/s" "bare hyper $h req/s" "$(ratio "$x" "$h")x" "(context)"
    row "(a) server CPU per request" "mock $mc us" "hyper $hc us, axum $xc us" "$(ratio "$mc" "$hc")x" "(context)"
}

# ---- (b) generator valid rate vs goose vs wrk ----------------------------------------
measure_b() {
    log "(b) generator: gameday highest valid rate vs goose closed loop vs wrk, $ROUNDS rounds"
    start_mock
    url=$URL
    gen=() goose=() wrkb=() gen_cpu=() goose_cpu=()
    for r in $(seq "$ROUNDS"); do
        order=(gameday goose wrk); ((r % 2 == 0)) && order=(wrk goose gameday)
        for who in "${order[@]}"; do
            case $who in
            gameday)
                best=nan best_cpu=nan
                for rate in "${RATES[@]}"; do
                    read -r code achieved sat _ _ cpu < <(gameday_run benches/scenarios/generator.toml "$rate" "${GEN_S}s" "$url")
                    log "   round $r gameday $rate/s: exit $code, achieved $achieved/s, saturated $sat, CPU $cpu us/request"
                    if [ "$sat" = true ] || [ "$code" = 3 ] || [ "$code" = 124 ]; then break; fi
                    best=$achieved best_cpu=$cpu
                done
                gen+=("$best") gen_cpu+=("$best_cpu") ;;
            goose)
                g=$(/usr/bin/time -f '%U %S' -o "$WORK/goose.cpu" timeout $((GOOSE_S + 40)) "$BIN/goose_max" "$url/health" \
                    "$CONNS" "$GOOSE_S" 2>/dev/null | sed -n 's/.*rate=\([0-9.]*\).*/\1/p')
                # CPU over the whole process (launch included) per request at the window's rate
                # for the whole run time: an upper bound, close for runs of several seconds.
                gc=$(python3 -c 'import sys; u,s=open(sys.argv[1]).read().split()[-2:]; print(f"{(float(u)+float(s))*1e6/(float(sys.argv[2])*(float(sys.argv[3])+1)):.2f}")' \
                    "$WORK/goose.cpu" "${g:-nan}" "$GOOSE_S" 2>/dev/null || echo nan)
                log "   round $r goose: ${g:-nan} req/s, CPU $gc us/request"
                goose+=("${g:-nan}") goose_cpu+=("$gc") ;;
            wrk)
                read -r rps _ _ < <(wrk_run "$url/health" "$THR_S" -t2 -c"$CONNS")
                log "   round $r wrk: $rps req/s"
                wrkb+=("$rps") ;;
            esac
        done
    done
    stop_last
    gm=$(median "${gen[@]}") go=$(median "${goose[@]}") wm=$(median "${wrkb[@]}")
    row "(b) gameday highest valid rate" "$gm req/s" "goose closed loop $go req/s" "$(ratio "$gm" "$go")x" ">= 1.0x"
    row "(b) gameday highest valid rate" "$gm req/s" "wrk $wm req/s" "$(ratio "$gm" "$wm")x" ">= 0.4x"
    row "(b) plain goose closed loop" "$go req/s" "wrk $wm req/s" "$(ratio "$go" "$wm")x" "(about 0.3x)"
    gc=$(median "${gen_cpu[@]}") oc=$(median "${goose_cpu[@]}")
    row "(b) client CPU per request" "gameday $gc us (at its highest valid rate)" "goose about $oc us" "$(ratio "$gc" "$oc")x" "(context)"
}

# ---- (c) latency accuracy at 500/s on a fixed 10 ms route ----------------------------
measure_c() {
    log "(c) latency: POST /attestation, fixed 10 ms, 500/s, ${LAT_S}s x $ROUNDS rounds"
    start_mock --profile benches/scenarios/midnight-fixed-10ms.toml
    url=$URL
    gp50=() gp99=() wp50=() wp99=()
    for r in $(seq "$ROUNDS"); do
        order=(gameday wrk); ((r % 2 == 0)) && order=(wrk gameday)
        for who in "${order[@]}"; do
            if [ "$who" = gameday ]; then
                read -r code _ _ p50 p99 _ < <(gameday_run benches/scenarios/latency.toml 500 "${LAT_S}s" "$url")
                log "   round $r gameday: exit $code p50 $p50 ms p99 $p99 ms"
                gp50+=("$p50") gp99+=("$p99")
            else
                # 5 connections x 10 ms = 500/s closed loop: wrk's latency is the route's own.
                read -r _ p50 p99 < <(wrk_run "$url/attestation" "$LAT_S" -t1 -c5 -s benches/scenarios/attestation.lua)
                log "   round $r wrk: p50 $p50 ms p99 $p99 ms"
                wp50+=("$p50") wp99+=("$p99")
            fi
        done
    done
    stop_last
    a50=$(median "${gp50[@]}") a99=$(median "${gp99[@]}") b50=$(median "${wp50[@]}") b99=$(median "${wp99[@]}")
    add() { python3 -c 'import sys; a,b=sys.argv[1:]; print(f"{(float(a)-float(b))*1000:.0f} us" if "nan" not in (a,b) else "nan")' "$1" "$2"; }
    row "(c) p50 at 500/s, 10 ms route" "gameday $a50 ms" "wrk $b50 ms" "added $(add "$a50" "$b50")" "<= 200 us"
    row "(c) p99 at 500/s, 10 ms route" "gameday $a99 ms" "wrk $b99 ms" "added $(add "$a99" "$b99")" "<= 1 ms"
}

# ---- (d) memory ------------------------------------------------------------------------
measure_d() {
    log "(d) memory: ${LONG_S}s open-model run at $LONG_RATE/s; four-week plan x $ROUNDS"
    start_mock
    url=$URL
    scen="$WORK/long.toml"
    sed -e "s/@RATE@/$LONG_RATE/; s/@DURATION@/${LONG_S}s/" benches/scenarios/generator.toml >"$scen"
    /usr/bin/time -v -o "$WORK/long.time" timeout $((LONG_S + 120)) "$GAMEDAY" run "$scen" --target "midnight=$url" \
        --out "$WORK/long" -q >"$WORK/long.log" 2>&1 &
    tpid=$!
    rss_q=nan rss_end=nan
    for i in $(seq $((LONG_S + 120))); do
        sleep 1
        kill -0 "$tpid" 2>/dev/null || break
        gpid=$(leaf "$tpid")
        kb=$(awk '/VmRSS/ {print $2}' "/proc/$gpid/status" 2>/dev/null)
        [ -n "$kb" ] || continue
        ((i == LONG_S / 5)) && rss_q=$kb
        ((i <= LONG_S)) && rss_end=$kb
    done
    wait "$tpid"
    stop_last
    peak=$(awk -F': ' '/Maximum resident/ {print $2}' "$WORK/long.time")
    sent=$(python3 -c 'import json,sys; print((json.load(open(sys.argv[1])).get("generator") or {}).get("sent","nan"))' "$WORK/long/results.json" 2>/dev/null || echo nan)
    mb() { python3 -c 'import sys; v=sys.argv[1]; print(f"{float(v)/1024:.0f} MB" if v not in ("","nan") else "nan")' "$1"; }
    row "(d) peak RSS, ${LONG_S}s run at $LONG_RATE/s ($sent requests)" "$(mb "$peak")" "RSS at 20% of the run: $(mb "$rss_q"), at end: $(mb "$rss_end")" "growth $(ratio "$rss_end" "$rss_q")x" "<= 200 MB, flat"
    plan_s=() plan_kb=()
    for r in $(seq "$ROUNDS"); do
        /usr/bin/time -v -o "$WORK/plan.time" timeout 300 "$GAMEDAY" plan scenarios/plan/midnight-growth.toml --no-live \
            >"$WORK/plan.log" 2>&1
        s=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); print (n==3 ? a[1]*3600+a[2]*60+a[3] : a[1]*60+a[2])}' "$WORK/plan.time")
        kb=$(awk -F': ' '/Maximum resident/ {print $2}' "$WORK/plan.time")
        log "   round $r plan: ${s}s, ${kb} kB"
        plan_s+=("$s") plan_kb+=("$kb")
    done
    row "(d) four-week Midnight plan (--no-live)" "$(median "${plan_s[@]}") s" "peak RSS $(mb "$(median "${plan_kb[@]}")")" "" "< 1 s"
}

# ---- (e) memory under latency spikes -----------------------------------------------------
measure_e() {
    local rate=1000 mark=120
    ((STALL_S < 3 * mark)) && mark=$((STALL_S / 3))
    log "(e) memory under latency spikes: ${STALL_S}s open-model run at $rate/s, the mock stopped 1 s in every 10 s"
    start_mock
    local url=$URL mock=${PIDS[-1]} scen="$WORK/stall.toml"
    printf '%s\n' 'name = "bench-stall"' 'seed = 11' 'time_scale = 1.0' '[load]' "rate = \"$rate/s\"" \
        "duration = \"${STALL_S}s\"" 'request_timeout = "5s"' '[[load.request]]' 'name = "health"' \
        'target = "midnight"' 'path = "/health"' '[targets.midnight]' 'scrape = false' >"$scen"
    /usr/bin/time -v -o "$WORK/stall.time" timeout $((STALL_S + 120)) "$GAMEDAY" run "$scen" --target "midnight=$url" \
        --out "$WORK/stall" -q >"$WORK/stall.log" 2>&1 &
    local tpid=$! t0=$SECONDS
    # The spikes: 9 s answering, 1 s stopped (only the mock this script started).
    (
        while kill -0 "$tpid" 2>/dev/null; do
            sleep 9
            kill -STOP "$mock" 2>/dev/null; sleep 1; kill -CONT "$mock" 2>/dev/null
        done
    ) &
    local spiker=$!
    local rss_mark=nan rss_end=nan i kb gpid
    while kill -0 "$tpid" 2>/dev/null; do
        sleep 1
        i=$((SECONDS - t0))
        gpid=$(leaf "$tpid")
        kb=$(awk '/VmRSS/ {print $2}' "/proc/$gpid/status" 2>/dev/null)
        [ -n "$kb" ] || continue
        echo "$i $kb" >>"$WORK/stall.rss"
        ((i <= mark)) && rss_mark=$kb
        ((i <= STALL_S)) && rss_end=$kb
    done
    wait "$tpid"
    local code=$?
    kill "$spiker" 2>/dev/null; wait "$spiker" 2>/dev/null
    kill -CONT "$mock" 2>/dev/null
    stop_last
    local peak sent
    peak=$(awk -F': ' '/Maximum resident/ {print $2}' "$WORK/stall.time")
    sent=$(python3 -c 'import json,sys; print((json.load(open(sys.argv[1])).get("generator") or {}).get("sent","nan"))' "$WORK/stall/results.json" 2>/dev/null || echo nan)
    log "   exit $code, $sent requests; RSS every 30 s (s:MB): $(awk 'NR % 30 == 0 {printf "%s:%d ", $1, $2/1024}' "$WORK/stall.rss" 2>/dev/null)"
    mb() { python3 -c 'import sys; v=sys.argv[1]; print(f"{float(v)/1024:.0f} MB" if v not in ("","nan") else "nan")' "$1"; }
    row "(e) peak RSS, ${STALL_S}s at $rate/s, 1 s stall every 10 s ($sent requests)" "$(mb "$peak")" \
        "RSS at ${mark}s: $(mb "$rss_mark"), at end: $(mb "$rss_end")" "growth $(ratio "$rss_end" "$rss_mark")x" "<= 200 MB, flat after 1 min"
}

for m in a b c d e; do
    if wanted "$m"; then "measure_$m"; fi
done

# ---- table -------------------------------------------------------------------------------
{
    echo "bench-compare: $(date -u +%FT%TZ), commit $(git rev-parse --short HEAD 2>/dev/null), $ROUNDS round(s)$( ((QUICK)) && echo ', --quick')$( ((DEV)) && echo ', --dev (dev-profile binaries)'), load:$(uptime | sed 's/.*load average://')"
    echo
    echo "| measure | gameday | baseline | ratio / difference | target |"
    echo "|---|---|---|---|---|"
    printf '%s\n' "${ROWS[@]}"
} | tee ${OUT:+"$OUT"}
