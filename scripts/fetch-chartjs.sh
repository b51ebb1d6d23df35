#!/usr/bin/env bash
# Development fallback for the status page's chart library when Debian's libjs-chart.js is not
# installed (e.g. on a non-Debian workstation): Chart.js from npm, pinned to the Debian version,
# into ven_edge/web/vendor/ (git-ignored; never committed, never packaged in the .deb).
# The web app serves /usr/share/javascript/chart.js/chart.min.js first, then this copy.
set -euo pipefail
cd "$(dirname "$0")/.."

CHARTJS_VERSION=3.9.1 # bookworm's libjs-chart.js 3.9.1+~0.2.1-2
target=ven_edge/web/vendor

if [ -f /usr/share/javascript/chart.js/chart.min.js ] && [ "${1:-}" != "--force" ]; then
    echo "fetch-chartjs: libjs-chart.js is installed; nothing to do (--force to fetch anyway)"
    exit 0
fi
command -v npm >/dev/null 2>&1 || { echo "fetch-chartjs: npm is missing (apt-get install npm)" >&2; exit 1; }
npm install --prefix "$target" --no-save --no-audit --no-fund --ignore-scripts "chart.js@${CHARTJS_VERSION}"
test -f "$target/node_modules/chart.js/dist/chart.min.js"
echo "fetch-chartjs: $target/node_modules/chart.js/dist/chart.min.js"
