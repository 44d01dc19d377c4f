#!/usr/bin/env bash
# Runs every shipped drill (scenarios/drills/*.toml) through `gameday drill` against the
# embedded mocks and prints, per drill, its status, the runbook alert it relies on, the
# alert-based MTTD next to the probe-based one, and any finding about the runbook.
#
# CI runs a representative few as tests (tests/missing_data.rs, tests/drill_e2e.rs); this
# script runs them all (about 20 minutes: the Scribe drills run in real time).
#
# Usage: bash ci/drills.sh [NAME...]   (default: every drill; NAME = file stem)
#        GAMEDAY=path/to/gameday bash ci/drills.sh   (default: a release build)
# Exit: 0 when every drill ended as its file expects (midnight-enclave-bad-pcr is
#       expected to FAIL: exit 1); 1 otherwise; 2 on bad usage.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v jq >/dev/null || { echo "drills.sh: needs jq (apt-get install jq)" >&2; exit 2; }
if [ -z "${GAMEDAY:-}" ]; then
    cargo build --release -q -p gameday
    GAMEDAY=target/release/gameday
fi
[ -x "$GAMEDAY" ] || { echo "drills.sh: $GAMEDAY is not an executable" >&2; exit 2; }

names=("$@")
if ((${#names[@]} == 0)); then
    for f in scenarios/drills/*.toml; do names+=("$(basename "$f" .toml)"); done
fi

out_root=$(mktemp -d)
trap 'rm -rf "$out_root"' EXIT
status=0
printf '%-32s %-5s %-22s %-10s %-10s %-10s %s\n' drill exit "runbook alert" fired "alert MTTD" "probe MTTD" finding
for name in "${names[@]}"; do
    file="scenarios/drills/$name.toml"
    [ -f "$file" ] || { echo "drills.sh: no drill file $file" >&2; exit 2; }
    expected=0
    [ "$name" = midnight-enclave-bad-pcr ] && expected=1
    code=0
    timeout 600 "$GAMEDAY" drill "$file" --out "$out_root/$name" --quiet </dev/null >"$out_root/$name.log" 2>&1 || code=$?
    results="$out_root/$name/results.json"
    if [ ! -f "$results" ]; then
        printf '%-32s %-5s %s\n' "$name" "$code" "no results.json: $(tail -1 "$out_root/$name.log")"
        status=1
        continue
    fi
    jq -r --arg n "$name" --arg c "$code" '.drills[] |
        [($n + "/" + .name), $c, (.runbook_alert.name // "-"), (.runbook_alert.fired | tostring),
         ((.runbook_alert.mttd_s // null) | if . == null then "-" else (. | floor | tostring) + "s" end),
         ((.probe_mttd_s // null) | if . == null then "-" else (. | floor | tostring) + "s" end),
         (.runbook_alert.finding // "")] | @tsv' "$results" |
        while IFS=$'\t' read -r d c a f m p why; do
            printf '%-32s %-5s %-22s %-10s %-10s %-10s %s\n' "$d" "$c" "$a" "$f" "$m" "$p" "$why"
        done
    if [ "$code" -ne "$expected" ]; then
        echo "  $name: exit $code, expected $expected; see below" >&2
        tail -20 "$out_root/$name.log" >&2
        status=1
    fi
done
exit "$status"
