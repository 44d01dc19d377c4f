#!/usr/bin/env bash
# The CI gate: runs scenarios/ci-gate.toml against the embedded mocks and compares it with
# the committed baseline reports/baselines/ci-gate.json. Exit 0 pass, 1 an SLO failed or
# a tracked percentile regressed, 2 bad scenario or baseline, 3 the run was invalid.
#
#   ci/gate.sh                      # release build, reports in out/ci-gate
#   GAMEDAY=target/debug/gameday ci/gate.sh
#   ci/gate.sh --update-baseline    # after an intended change: commit the new baseline
#
# On GitHub Actions the report is appended to the job summary ($GITHUB_STEP_SUMMARY).
set -euo pipefail
cd "$(dirname "$0")/.."
read -r -a gameday <<< "${GAMEDAY:-cargo run --release --quiet --}"
out="${OUT:-out/ci-gate}"
status=0
"${gameday[@]}" gate scenarios/ci-gate.toml --baseline reports/baselines/ci-gate.json --out "$out" --quiet "$@" || status=$?
if [ -n "${GITHUB_STEP_SUMMARY:-}" ] && [ -f "$out/report.md" ]; then
    cat "$out/report.md" >> "$GITHUB_STEP_SUMMARY"
fi
echo "ci/gate.sh: exit $status; reports in $out (report.md, report.html, junit.xml, results.json)"
exit "$status"
