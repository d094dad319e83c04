#!/usr/bin/env bash
# One install step for a fresh Debian 12 / Ubuntu machine: the Debian packages the project runs
# against, and a virtualenv (.venv) with every extra. Idempotent: fast when nothing is missing.
# It never starts a system service: tests and the demo run their own servers as child processes.
set -euo pipefail
cd "$(dirname "$0")/../.."

# Debian packages: the real servers the tests and demo start themselves (PostgreSQL for the
# registry's second backend: stack/postgres.py runs initdb and postgres as an unprivileged user);
# the evidence report's PDF engine (WeasyPrint needs Pango and HarfBuzz's subsetter), the CJK
# font it embeds, and the tools the report tests look through (poppler's pdftoppm/pdftotext,
# headless Chromium, also for the web app's browser tests); openssl for the central stack's make-pki.sh; systemd for
# `systemd-analyze verify` of the gateway unit (tests only: no systemd runs here, and the
# package starts nothing by being installed). The PDF engine's packages are one list,
# deploy/pdf-packages.txt, which the central stack's collector image installs too.
mapfile -t PDF_PACKAGES < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' -e '/^$/d' deploy/pdf-packages.txt)
APT_PACKAGES=(mosquitto influxdb postgresql "${PDF_PACKAGES[@]}" poppler-utils chromium openssl systemd)

if [ "${1:-}" = "--print-packages" ]; then  # what this installs, for an image or a check
  printf '%s\n' "${APT_PACKAGES[@]}"
  exit 0
fi

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then missing+=(python3-venv); fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The packages ship system services; we do not want them (they would hold ports 1883/8086/5432
# and outlive the tests). Stop and disable them where systemd runs; elsewhere nothing started them.
if [ -d /run/systemd/system ]; then
  for svc in mosquitto influxdb postgresql; do
    as_root systemctl disable --now "$svc" >/dev/null 2>&1 || true
  done
fi

python3 - <<'PY'
import sys
if sys.version_info < (3, 11):
    sys.exit(f"setup: Python >= 3.11 is required, found {sys.version.split()[0]}")
PY

# The venv is rebuilt only when pyproject.toml changes.
stamp=.venv/.pyproject.sha256
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing the Python environment in .venv"
  python3 -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[agent,sim,collector,dev]'
  echo "$want" > "$stamp"
fi
