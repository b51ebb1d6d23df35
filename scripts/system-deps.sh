#!/usr/bin/env bash
# Install the Debian packages that building, testing and the demo need, if any is missing.
# Idempotent: does nothing when everything is present. Needs root (or sudo) only to install.
set -euo pipefail

packages=(
    # build systemd-python from source in the venv
    gcc pkg-config libsystemd-dev python3-dev python3-venv
    # the status page's chart library (served from /usr/share/javascript/chart.js/)
    libjs-chart.js
    # browser tests of the status page: Debian's Chromium driven by Playwright, and a font
    chromium fonts-dejavu-core
    # the Debian package (scripts/check-deb.sh): build, its build-time tests, lint, unit checks,
    # and a debootstrap trixie root to install it in
    build-essential fakeroot debhelper dh-python pybuild-plugin-pyproject python3-all
    python3-hatchling python3-pytest python3-hypothesis lintian systemd debootstrap
    # TLS tests (vtn_lite, the OpenADR client) make throwaway certificates
    openssl
)

missing=()
for pkg in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$pkg")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "system-deps: installing ${missing[*]}" >&2
if [ "$(id -u)" -eq 0 ]; then
    apt_get=(apt-get)
elif command -v sudo >/dev/null 2>&1; then
    apt_get=(sudo apt-get)
else
    echo "system-deps: run as root: apt-get install -y ${missing[*]}" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${apt_get[@]}" update -qq
"${apt_get[@]}" install -y -qq --no-install-recommends "${missing[@]}"
