#!/usr/bin/env bash
# Measures the CI gate's false-alarm and detection rates (the README's "The CI gate"
# figures): N runs of scenarios/ci-gate.toml unchanged, and N runs with the mock's
# attestation service time 10% slower (median and p99 both x1.1, so its p95 is 10%
# slower), each with its own seed, each compared with reports/baselines/ci-gate.json.
#
#   ci/gate-figures.sh            # N=20, release build; about 25 minutes
#   N=5 GAMEDAY=target/debug/gameday ci/gate-figures.sh
#
# Prints one line per run and the two rates; exit 0 when unchanged runs raised no alarm
# and at least 95% of slowed runs were caught.
set -euo pipefail
cd "$(dirname "$0")/.."
n="${N:-20}"
if [ -z "${GAMEDAY:-}" ]; then
    cargo build --release --quiet
    GAMEDAY=target/release/gameday
fi
read -r -a gameday <<< "$GAMEDAY"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
slow="$work/ci-gate-slow.toml"
sed -e 's/^median = "100ms"/median = "110ms"/' -e 's/^p99 = "300ms"/p99 = "330ms"/' scenarios/ci-gate.toml > "$slow"
if cmp -s "$slow" scenarios/ci-gate.toml; then
    echo "gate-figures: could not derive the slowed scenario (service time lines changed?)" >&2
    exit 2
fi
declare -A failed=([unchanged]=0 [slowed]=0) invalid=([unchanged]=0 [slowed]=0)
for i in $(seq 1 "$n"); do
    for variant in unchanged slowed; do
        file=scenarios/ci-gate.toml
        [ "$variant" = slowed ] && file="$slow"
        code=0
        "${gameday[@]}" gate "$file" --baseline reports/baselines/ci-gate.json --seed "$((1000 + i))" \
            --out "$work/$variant-$i" --quiet > "$work/log" 2>&1 || code=$?
        p95="$(grep -o 'attestation p95: [A-Za-z]*: [+-][0-9.]*%' "$work/log" | head -1 || true)"
        echo "run $i $variant: exit $code ${p95:-(no comparison)}"
        case "$code" in
            0) ;;
            1) failed[$variant]=$((failed[$variant] + 1)) ;;
            *) invalid[$variant]=$((invalid[$variant] + 1)); tail -3 "$work/log" ;;
        esac
    done
done
echo
echo "unchanged: ${failed[unchanged]} of $n runs failed the gate (false alarms), ${invalid[unchanged]} invalid"
echo "10% slower: ${failed[slowed]} of $n runs failed the gate (caught), ${invalid[slowed]} invalid"
[ "${failed[unchanged]}" -eq 0 ] && [ "$((failed[slowed] * 100))" -ge "$((n * 95))" ]
