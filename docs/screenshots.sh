#!/usr/bin/env bash
# Screenshots of the built documentation, to look at it as a reader would.
#
#   bash docs/screenshots.sh [PAGE ...]
#
# PAGE is a path under docs/_build/html (default: the front page, the
# cross_entropy API page and the digits gallery page). Builds nothing: run
#   pip install '.[docs]' && python -m sphinx -W -b html docs docs/_build/html
# first. Needs Chromium (Debian: apt-get install -y chromium). Writes one PNG
# per page to docs/_build/screenshots/ (WIDTH and HEIGHT set the window).
set -euo pipefail
docs="$(cd "$(dirname "$0")" && pwd)"
html="$docs/_build/html"
out="$docs/_build/screenshots"
width="${WIDTH:-1440}"
height="${HEIGHT:-1600}"

if [ ! -f "$html/index.html" ]; then
  echo "no built site at $html: build it first (see the top of this script)" >&2
  exit 1
fi
browser="$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)"
if [ -z "$browser" ]; then
  echo "Chromium not found: apt-get install -y chromium" >&2
  exit 1
fi

if [ "$#" -eq 0 ]; then
  set -- index.html api/generated/logitloss.cross_entropy.html auto_examples/train_digits.html
fi
mkdir -p "$out"
for page in "$@"; do
  if [ ! -f "$html/$page" ]; then
    echo "no page $html/$page" >&2
    exit 1
  fi
  png="$out/$(echo "${page%.html}" | tr '/' '_').png"
  # --no-sandbox: Chromium refuses to run as root otherwise (containers, CI).
  # The virtual time budget lets the theme's scripts run before the capture.
  "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --virtual-time-budget=3000 --window-size="$width,$height" \
    --screenshot="$png" "file://$html/$page" >/dev/null 2>&1
  echo "$png"
done
