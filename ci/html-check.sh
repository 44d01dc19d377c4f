#!/usr/bin/env bash
# Opens a gameday report.html in headless Chromium and checks that it renders: Chromium
# loads it without console errors, the rendered DOM holds the verdict banner and every
# chart inline, and the screenshot is a real page (not blank). Installs
# chromium-headless-shell (Debian) when missing.
#
#   ci/html-check.sh out/ci-gate/report.html [screenshot.png]
set -euo pipefail
html="$(realpath "${1:?usage: ci/html-check.sh REPORT.html [SCREENSHOT.png]}")"
shot="${2:-${html%.html}.png}"
if ! command -v chromium-headless-shell > /dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq chromium-headless-shell > /dev/null
fi
chrome=(chromium-headless-shell --no-sandbox --disable-gpu --hide-scrollbars --enable-logging=stderr --v=0)
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
timeout 120 "${chrome[@]}" --window-size=1200,2400 --screenshot="$shot" "file://$html" 2> "$log" > /dev/null
dom="$(timeout 120 "${chrome[@]}" --dump-dom "file://$html" 2>> "$log")"
if grep -E "CONSOLE|Uncaught|Failed to load resource" "$log"; then
    echo "html-check: $html: the browser reported errors (above)" >&2
    exit 1
fi
charts="$( (find "$(dirname "$html")/charts" -name '*.svg' 2> /dev/null || true) | wc -l)"
svgs="$( (grep -o "<svg" <<< "$dom" || true) | wc -l)"
grep -q 'id="verdict"' <<< "$dom" || { echo "html-check: no verdict banner in the rendered page" >&2; exit 1; }
[ "$svgs" -eq "$charts" ] || { echo "html-check: $svgs charts rendered, $charts in charts/" >&2; exit 1; }
python3 - "$shot" << 'PY'
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, idat, width, height, kind = 8, b"", 0, 0, 0
while pos < len(data):
    length, tag = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + length]
    if tag == b"IHDR":
        width, height, depth, kind = struct.unpack(">IIBB", body[:10])
    elif tag == b"IDAT":
        idat += body
    pos += 12 + length
raw = zlib.decompress(idat)
channels = {2: 3, 6: 4}[kind]
stride = width * channels + 1
# A uniform row, whatever its PNG filter, holds at most two distinct byte values once
# filtered (the colour, or zeros); a page with content has many rows that do not.
busy = sum(1 for y in range(height) if len(set(raw[y * stride + 1:(y + 1) * stride])) > 2)
print(f"html-check: screenshot {width}x{height}, {busy} rows with content")
sys.exit(0 if busy > height // 4 else 1)
PY
echo "html-check: $html renders: verdict banner, $svgs inline charts, no console errors; screenshot $shot"
