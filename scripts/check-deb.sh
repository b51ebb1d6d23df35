#!/usr/bin/env bash
# Build the Debian packages and check them the way an installer will meet them:
#   1. dpkg-buildpackage -b -us -uc (clean PATH: pyenv shims break pybuild)
#   2. lintian: no errors, no warnings
#   3. systemd-analyze verify (no output allowed) for both units; security exposure ≤ 2.0
#   4. install the previous version's .deb into a Debian trixie root made by debootstrap (cached)
#      and let it write state mid-event; install this .deb over it, then run `ven-edge --version`,
#      `ven-edge check --skip-serial --skip-network` and the daemon (which must resume the event).
# Usage: scripts/check-deb.sh [--build-only] [--no-root]
# Env:   VEN_EDGE_CI_CACHE (default /var/cache/ven-edge-ci), DEBIAN_MIRROR, OUT_DIR (default build/deb),
#        PREVIOUS_REF (the previous version's git ref; default: scripts/previous-release)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

build_only=0
with_root=1
for arg in "$@"; do
    case "$arg" in
        --build-only) build_only=1 ;;
        --no-root) with_root=0 ;;
        *) echo "check-deb: unknown argument $arg" >&2; exit 2 ;;
    esac
done

cache=${VEN_EDGE_CI_CACHE:-/var/cache/ven-edge-ci}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
out=${OUT_DIR:-$repo/build/deb}
clean_path=/usr/sbin:/usr/bin:/sbin:/bin
# The exposure gate for ven-edge.service, on systemd-analyze's 0-100 scale (exposure × 10).
max_exposure=20

step() { printf '\n== %s (%ss)\n' "$1" "$SECONDS" >&2; }
fail() { echo "check-deb: FAIL: $*" >&2; exit 1; }

step "build"
# dpkg-buildpackage writes next to the source tree; build from a clean copy so that the work tree
# (and its untracked files) stays as it is and the results land in $out.
work=$(mktemp -d)
daemon=
cleanup() {
    [ -z "$daemon" ] || kill "$daemon" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
src="$work/ven-edge"
mkdir -p "$src"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git ls-files -z --cached --others --exclude-standard | xargs -0 cp -P --parents -t "$src"
else
    tar -C "$repo" --exclude=./.git --exclude=./.venv --exclude=./build -cf - . | tar -C "$src" -xf -
fi
( cd "$src" && env -i PATH=$clean_path HOME="$work" LC_ALL=C.UTF-8 \
    dpkg-buildpackage -b -us -uc >"$work/build.log" 2>&1 ) || { tail -50 "$work/build.log" >&2; fail "dpkg-buildpackage"; }
mkdir -p "$out"
rm -f "$out"/*.deb "$out"/*.changes "$out"/*.buildinfo "$out"/build.log
cp "$work"/*.deb "$work"/*.changes "$work"/*.buildinfo "$work/build.log" "$out"/
ls -l "$out"/*.deb >&2
[ "$build_only" -eq 1 ] && exit 0

step "lintian"
lintian_out=$(env -i PATH=$clean_path LC_ALL=C.UTF-8 lintian --fail-on none "$out"/*.changes 2>&1 || true)
echo "$lintian_out" >&2
if echo "$lintian_out" | grep -qE '^[EW]: '; then fail "lintian reports errors or warnings"; fi

step "systemd-analyze"
# verify refuses a unit whose ExecStart binary is missing on this host: check copies that run
# /bin/true instead (the rest of the unit is what matters here).
units="$work/units"
mkdir -p "$units"
for unit in systemd/ven-edge.service systemd/vtn-lite.service; do
    sed -E 's|^ExecStart=[^ ]+|ExecStart=/bin/true|' "$unit" >"$units/$(basename "$unit")"
done
for unit in "$units"/*.service; do
    verify_out=$(systemd-analyze verify --man=no "$unit" 2>&1) || fail "systemd-analyze verify $unit: $verify_out"
    [ -z "$verify_out" ] || fail "systemd-analyze verify $(basename "$unit"): $verify_out"
done
systemd-analyze security --offline=yes --no-pager "$units/ven-edge.service" | tail -1 >&2
systemd-analyze security --offline=yes --threshold=$max_exposure "$units/ven-edge.service" >/dev/null \
    || fail "ven-edge.service exposure is above $((max_exposure / 10)).$((max_exposure % 10))"
systemd-analyze security --offline=yes --no-pager "$units/vtn-lite.service" | tail -1 >&2
[ "$with_root" -eq 1 ] || exit 0

# The upgrade path: the package of the previous version goes in first and writes its state files
# the way it writes them, in the middle of a utility event; the package under test is installed
# over it, and the daemon smoke below must pick the event up from those files. The previous
# version is PREVIOUS_REF, by default the release named in scripts/previous-release.
upgrade_event=
previous_ref=${PREVIOUS_REF:-$(head -n 1 scripts/previous-release)}
if ! git rev-parse --verify -q "$previous_ref^{commit}" >/dev/null 2>&1; then
    echo "previous release: $previous_ref is not in this checkout's history" >&2
    previous_ref=
fi
if [ -n "$previous_ref" ]; then
    echo "previous release: $(git log -1 --format='%h %s' "$previous_ref")" >&2
    mkdir -p "$work/previous/ven-edge"
    git archive "$previous_ref" | tar -x -C "$work/previous/ven-edge"
    ( cd "$work/previous/ven-edge" && env -i PATH=$clean_path HOME="$work" LC_ALL=C.UTF-8 \
        DEB_BUILD_OPTIONS=nocheck dpkg-buildpackage -b -us -uc >"$work/previous.log" 2>&1 ) \
        || { tail -30 "$work/previous.log" >&2; fail "dpkg-buildpackage of $previous_ref"; }
fi

step "trixie root"
# The root gets the package's dependencies pre-installed (so `dpkg -i` needs no network); the
# cache key follows them, so a new dependency builds a new root.
# Both packages' dependencies (vtn-lite's python3-pydantic included) and the previous release's,
# less ven-edge itself.
# ven-edge's Recommends too (python3-lxml, python3-cryptography: OpenADR 2.0b mode), as apt
# installs them by default and every module, ven_edge.oadr2b's included, must import.
root_packages=$(for deb in "$out"/ven-edge_*_all.deb "$out"/vtn-lite_*_all.deb \
        "$work"/previous/ven-edge_*_all.deb; do
        if [ -e "$deb" ]; then
            dpkg-deb -f "$deb" Depends
            case "$deb" in "$out"/ven-edge_*) echo ,; dpkg-deb -f "$deb" Recommends ;; esac
        fi
    done | tr ',' '\n' \
    | sed -E 's/\|.*//; s/\(.*\)//; s/:any//; s/[[:space:]]//g' | grep -v '^$' | grep -vx 'ven-edge' \
    | sort -u | paste -sd, -)
# debootstrap does not resolve virtual packages: python3-cryptography depends on
# python3-cffi-backend-api-min/-max, which python3-cffi-backend provides.
case ",$root_packages," in
    *,python3-cryptography,*) root_packages="$root_packages,python3-cffi-backend" ;;
esac
echo "root packages: $root_packages" >&2
key=$(printf '%s %s' "$root_packages" "$mirror" | sha256sum | cut -c1-12)
tarball="$cache/trixie-$key.tar.gz"
if [ ! -s "$tarball" ]; then
    command -v debootstrap >/dev/null || fail "debootstrap missing: bash scripts/system-deps.sh"
    mkdir -p "$cache"
    fresh="$work/fresh"
    debootstrap --variant=minbase --include="$root_packages" trixie "$fresh" "$mirror" \
        >"$work/debootstrap.log" 2>&1 || { tail -30 "$work/debootstrap.log" >&2; fail "debootstrap"; }
    rm -rf "$fresh"/var/cache/apt/archives/*.deb "$fresh"/var/lib/apt/lists/*_Packages
    tar -C "$fresh" -czf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
    # Roots for older dependency lists are not needed again.
    find "$cache" -maxdepth 1 -name 'trixie-*.tar.gz' ! -name "trixie-$key.tar.gz" -delete
    rm -rf "$fresh"
fi
root="$work/root"
mkdir -p "$root"
tar -C "$root" -xzf "$tarball"

in_root() { env -i PATH=$clean_path LC_ALL=C.UTF-8 HOME=/root chroot "$root" "$@"; }

step "previous release"
if [ -n "$previous_ref" ]; then
    cp "$work"/previous/ven-edge_*_all.deb "$root/tmp/previous.deb"
    in_root dpkg -i /tmp/previous.deb >&2 || fail "dpkg -i of the previous release"
    upgrade_event=ev-upgrade
    in_root python3 -c '
import sys
from datetime import UTC, datetime, timedelta
from ven_edge.daemon import SIGNALS_DOC, timeline_to_json
from ven_edge.signals import SignalInterval, SignalTimeline
from ven_edge.store import StateStore
now = datetime.now(UTC)
event = SignalInterval(now - timedelta(minutes=30), now + timedelta(hours=2), "SIMPLE", (1,), 0, sys.argv[1])
StateStore("/tmp/smoke-state").save(SIGNALS_DOC, timeline_to_json(SignalTimeline((event,))))
' "$upgrade_event" >&2 || fail "the previous release did not write its state"
else
    echo "previous release: none (no git history here); upgrade not checked" >&2
fi

step "install into trixie"
cp "$out"/ven-edge_*_all.deb "$root/tmp/"
in_root sh -c 'dpkg -i /tmp/ven-edge_*_all.deb' >&2 || fail "dpkg -i in the trixie root"
in_root ven-edge --version >&2 || fail "ven-edge --version in the trixie root"
# Every module must import with trixie's python3-* versions (not only those the CLI touches).
import_all='
import importlib, pkgutil, sys
bad = []
for name in sys.argv[1:]:
    pkg = importlib.import_module(name)
    for mod in pkgutil.walk_packages(pkg.__path__, name + "."):
        if mod.name.endswith(".__main__"):
            continue
        try:
            importlib.import_module(mod.name)
        except Exception as exc:
            bad.append(f"{mod.name}: {exc!r}")
print("\n".join(bad) or "all modules import: " + " ".join(sys.argv[1:]))
sys.exit(1 if bad else 0)
'
in_root python3 -c "$import_all" ven_edge >&2 || fail "modules that do not import on trixie"
# OpenADR 2.0b mode on trixie's python3-lxml and python3-cryptography: a distribute parsed by
# the hardened parser, a message signed and its signature checked, a lab-mode config checked.
in_root python3 -c '
import datetime, subprocess, tempfile
from pathlib import Path
import cryptography, lxml.etree
from ven_edge.oadr2b.build import to_bytes
from ven_edge.oadr2b.distribute import build_distribute, parse_distribute
from ven_edge.oadr2b.envelope import open_payload
from ven_edge.oadr2b.events import DistributeEvent, Event, EventSignal, EventStatus, Interval
from ven_edge.oadr2b.tlsconf import fingerprint
from ven_edge.oadr2b.xmlsafe import parse_xml
from ven_edge.oadr2b.xmlsig import MessageSigner, SignatureChecker
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
now = datetime.datetime.now(datetime.UTC)
hour = datetime.timedelta(hours=1)
event = Event("ev", 0, EventStatus.FAR, now, hour, (EventSignal("SIMPLE", "level", "s", (Interval(0, hour, 1.0),)),))
body = to_bytes(build_distribute(DistributeEvent("r", "VTN", (event,))))
assert parse_distribute(open_payload(parse_xml(body)).message).events[0].signals == event.signals
key = ec.generate_private_key(ec.SECP256R1())
name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "smoke")])
cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(1).not_valid_before(now - hour).not_valid_after(now + hour).sign(key, hashes.SHA256()))
der = cert.public_bytes(serialization.Encoding.DER)
signed = MessageSigner(der, key, lambda: now).sign(build_distribute(DistributeEvent("r", "VTN", (event,))))
SignatureChecker(fingerprint(der), lambda: now).verify(parse_xml(signed))
print("2.0b stack works: lxml", lxml.etree.__version__, "cryptography", cryptography.__version__)
' >&2 || fail "the OpenADR 2.0b stack does not work on trixie"
printf '[vtn]\nprotocol = "2.0b"\nurl = "http://127.0.0.1:9/OpenADR2/Simple/2.0b"\n[heater]\nport = "/dev/ttyUSB-absent"\n' \
    >"$root/tmp/oadr2b.toml"
in_root ven-edge check --config /tmp/oadr2b.toml --skip-serial --skip-network >&2 \
    || fail "ven-edge check of a 2.0b configuration"
in_root id ven-edge >&2 || fail "system user ven-edge missing"
in_root id -nG ven-edge | grep -qw dialout || fail "ven-edge is not in group dialout"
in_root test -f /etc/ven-edge/ven-edge.toml || fail "/etc/ven-edge/ven-edge.toml missing"
in_root ven-edge check --config /etc/ven-edge/ven-edge.toml --skip-serial --skip-network >&2 \
    || fail "ven-edge check of the packaged config"
# The heater models the example configuration points at are shipped and load.
in_root python3 -c 'import glob; from ven_edge.plan.hpwh_model import HpwhModel
paths = glob.glob("/usr/share/ven-edge/hpwh-models/*.json")
assert len(paths) == 4, paths
for path in paths: HpwhModel.load(path)' >&2 \
    || fail "packaged heater models in /usr/share/ven-edge/hpwh-models/ do not load"
# The installed unit against trixie's systemd, whose scores differ slightly from the build host's.
installed_unit=/usr/lib/systemd/system/ven-edge.service
verify_out=$(in_root systemd-analyze verify --man=no "$installed_unit" 2>&1) \
    || fail "systemd-analyze verify in trixie: $verify_out"
[ -z "$verify_out" ] || fail "systemd-analyze verify in trixie: $verify_out"
in_root systemd-analyze security --offline=yes --no-pager "$installed_unit" | tail -1 | sed 's/^/trixie: /' >&2
in_root systemd-analyze security --offline=yes --threshold=$max_exposure "$installed_unit" >/dev/null \
    || fail "ven-edge.service exposure on trixie is above $((max_exposure / 10)).$((max_exposure % 10))"
if compgen -G "$out/vtn-lite_*_all.deb" >/dev/null; then
    cp "$out"/vtn-lite_*_all.deb "$root/tmp/"
    in_root sh -c 'dpkg -i /tmp/vtn-lite_*_all.deb' >&2 || fail "dpkg -i vtn-lite in the trixie root"
    in_root vtn-lite --version >&2 || fail "vtn-lite --version in the trixie root"
    in_root python3 -c "$import_all" vtn_lite >&2 || fail "vtn_lite modules that do not import"
    in_root test -f /etc/vtn-lite/vtn-lite.toml || fail "/etc/vtn-lite/vtn-lite.toml missing"
    verify_out=$(in_root systemd-analyze verify --man=no /usr/lib/systemd/system/vtn-lite.service 2>&1) \
        || fail "systemd-analyze verify vtn-lite in trixie: $verify_out"
    [ -z "$verify_out" ] || fail "systemd-analyze verify vtn-lite in trixie: $verify_out"
fi

step "daemon smoke on trixie"
# The packaged daemon starts on trixie's libraries, serves its status page and stops cleanly on
# SIGTERM. The page listens on a free loopback port (the root shares this machine's network).
if in_root ven-edge run --help >/dev/null 2>&1; then
    port=$(in_root python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    mkdir -p "$root/tmp/smoke-state"
    printf '[heater]\nport = "/dev/ttyUSB-absent"\n[web]\nport = %s\n[state]\ndir = "/tmp/smoke-state"\n' \
        "$port" >"$root/tmp/smoke.toml"
    # Not through in_root: a backgrounded function is a subshell, and $! must be the daemon itself
    # (env and chroot exec it) for SIGTERM to reach it.
    env -i PATH=$clean_path LC_ALL=C.UTF-8 HOME=/root chroot "$root" \
        ven-edge run --config /tmp/smoke.toml >"$work/daemon.log" 2>&1 &
    daemon=$!
    fetch='
import json, sys, time, urllib.request
event = sys.argv[2] if len(sys.argv) > 2 else ""
deadline = time.monotonic() + 30
while True:
    try:
        with urllib.request.urlopen(sys.argv[1], timeout=2) as response:
            status = json.load(response)
        current = (status.get("events") or {}).get("current") or {}
        if current.get("id") == event or not event:
            break
    except OSError:
        pass
    if time.monotonic() > deadline:
        sys.exit(f"no status page, or the event {event!r} from before the upgrade is not current")
    time.sleep(0.2)
print("status page answered:", ", ".join(sorted(status)[:6]))
if event:
    print("the event the previous release wrote is current:", event)
'
    if ! in_root python3 -c "$fetch" "http://127.0.0.1:$port/api/status" $upgrade_event >&2; then
        kill "$daemon" 2>/dev/null || true
        cat "$work/daemon.log" >&2
        fail "the daemon's status page did not answer on trixie"
    fi
    kill -TERM "$daemon"
    rc=0
    wait "$daemon" || rc=$?
    tail -3 "$work/daemon.log" >&2
    if [ -n "$upgrade_event" ]; then
        grep -F "signals.json: migrated from version 0 to " "$work/daemon.log" >&2 \
            || fail "the daemon did not migrate the previous release's state files"
    fi
    daemon=
    [ "$rc" -eq 0 ] || fail "the daemon exited with status $rc after SIGTERM"
    echo "daemon stopped cleanly" >&2
else
    echo "daemon smoke: this build has no 'ven-edge run'" >&2
fi

step "done"
echo "check-deb: OK in ${SECONDS}s" >&2
