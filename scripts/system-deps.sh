#!/usr/bin/env bash
# Install the Debian packages a task needs, if any is missing:
#   bash scripts/system-deps.sh [GROUP...]     GROUP: venv, demo, test, packaging, all (default)
# `make venv` asks for venv, `make demo` for demo, `make deb`/`make check-deb` for packaging and
# `make test` for test, which includes packaging since the suite checks the package too.
# Idempotent: does nothing when everything is present. Needs root (or sudo) only to install.
set -euo pipefail

# Python's venv module (ensurepip), which Debian ships separately.
venv=(python3-venv)
# The status page's chart library (served from /usr/share/javascript/chart.js/), and curl and jq
# with which the README's tour plays the utility.
demo=("${venv[@]}" libjs-chart.js curl jq)
# The Debian package (scripts/check-deb.sh): build, its build-time tests, lint, unit checks,
# and a debootstrap trixie root to install it in.
packaging=(
    build-essential fakeroot debhelper dh-python pybuild-plugin-pyproject python3-all
    python3-hatchling python3-pytest python3-hypothesis lintian systemd debootstrap
)
test=(
    "${demo[@]}"
    # python-systemd (the `systemd` extra, as the .deb has it) is built from source in the venv
    gcc pkg-config libsystemd-dev python3-dev
    # browser tests of the status page: Debian's Chromium driven by Playwright, and a font
    chromium fonts-dejavu-core
    # TLS tests (vtn_lite, the OpenADR client) make throwaway certificates
    openssl
    # vtn_lite's suite runs on PostgreSQL too: a private server from these binaries per session
    postgresql
    # MQTT notifier tests run /usr/sbin/mosquitto with their own config (tests/mosquitto.py);
    # the packaged service is not used
    mosquitto
    "${packaging[@]}"
)

packages=()
for group in "${@:-all}"; do
    case "$group" in
        venv) packages+=("${venv[@]}") ;;
        demo) packages+=("${demo[@]}") ;;
        test | all) packages+=("${test[@]}") ;;
        packaging) packages+=("${packaging[@]}") ;;
        *)
            echo "system-deps: unknown group '$group' (venv, demo, test, packaging, all)" >&2
            exit 2
            ;;
    esac
done

missing=()
for pkg in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$pkg")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0
# A group may name a package twice (test includes demo); install each once.
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)

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
