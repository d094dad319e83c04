#!/usr/bin/env bash
# Installs the retrofit-verify agent on a Debian / Ubuntu gateway as a hardened systemd service.
#
#   sudo ./deploy/agent/install.sh [--config agent.yaml] [--ca ca.pem] [--no-start]
#   ./deploy/agent/install.sh --root DIR     # into a throw-away root (tests, image builds)
#
# What it does, each step idempotent:
#   1. a system user and group `retrofit-agent` (no login, no home)
#   2. a virtualenv in /opt/retrofit-agent/venv with this checkout's `.[agent]` (nothing else)
#   3. /etc/retrofit-agent: agent.yaml (yours with --config, else an example to edit), the
#      broker's CA (--ca), agent.env for secrets, and the agent's key (made once, kept after)
#   4. /etc/systemd/system/retrofit-agent.service, enabled; started when a --config was given
#      and passed `check-config --offline`
# The outbox is /var/lib/retrofit-agent (systemd's StateDirectory). Printed at the end: the
# agent's public key, to register in the implementation plan (docs/installers.md).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
source_dir="$(cd "$here/../.." && pwd)"
root=""
config=""
ca=""
start=true
python="${PYTHON:-python3}"

usage() { sed -n '2,17p' "$0"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --root) root="$(mkdir -p "$2" && cd "$2" && pwd)"; shift 2 ;;
    --config) config="$2"; shift 2 ;;
    --ca) ca="$2"; shift 2 ;;
    --no-start) start=false; shift ;;
    --python) python="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

say() { echo "install: $*"; }
fail() { echo "install: $*" >&2; exit 1; }

[ -n "$root" ] || [ "$(id -u)" -eq 0 ] || fail "run as root (sudo), or give --root DIR"
[ -f "$source_dir/pyproject.toml" ] || fail "$source_dir is not a retrofit-verify checkout"
[ -z "$config" ] || [ -f "$config" ] || fail "--config $config: no such file"
[ -z "$ca" ] || [ -f "$ca" ] || fail "--ca $ca: no such file"

user=retrofit-agent
prefix="$root/opt/retrofit-agent"
etc="$root/etc/retrofit-agent"
unit_dir="$root/etc/systemd/system"

# --- 0. Python 3.11+ with venv (Debian 12: python3 3.11; Ubuntu 22.04 needs python3.11) ----
if ! "$python" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  if [ -z "$root" ] && command -v apt-get >/dev/null; then
    say "installing python3-venv"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
  fi
  "$python" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' \
    || fail "$python is not Python >= 3.11 with venv (Ubuntu 22.04: apt install python3.11-venv, then --python python3.11)"
fi

# --- 1. the system user ----------------------------------------------------------------------
if [ -n "$root" ]; then
  mkdir -p "$root/etc"
  touch "$root/etc/passwd" "$root/etc/group" "$root/etc/shadow" "$root/etc/gshadow"
  grep -q '^dialout:' "$root/etc/group" || echo 'dialout:x:20:' >> "$root/etc/group"
  useradd_root=(--root "$root")
else
  useradd_root=()
fi
if ! grep -q "^$user:" "${root:-}/etc/passwd"; then
  useradd "${useradd_root[@]}" --system --user-group --no-create-home \
    --home-dir /var/lib/retrofit-agent --shell /usr/sbin/nologin \
    --comment "retrofit-verify agent" "$user"
  say "made system user $user"
fi
# Modbus RTU adapters belong to dialout (the unit adds it too, for systemd < 252 cases).
usermod "${useradd_root[@]}" --append --groups dialout "$user" 2>/dev/null || true

# --- 2. the virtualenv -----------------------------------------------------------------------
if [ ! -x "$prefix/venv/bin/python" ]; then
  "$python" -m venv "$prefix/venv"
fi
"$prefix/venv/bin/python" -m pip install -q --upgrade pip
"$prefix/venv/bin/python" -m pip install -q "$source_dir[agent]"
mkdir -p "$prefix/share"
cp "$source_dir/docs/operations.md" "$source_dir/docs/installers.md" "$prefix/share/"
agent="$prefix/venv/bin/retrofit-agent"
say "installed retrofit-agent $("$prefix/venv/bin/python" -c 'import importlib.metadata as m; print(m.version("retrofit-verify"))') in $prefix/venv"

# --- 3. configuration, CA, secrets, key ------------------------------------------------------
# Numeric ids, read from the (possibly throw-away) root's own files.
own_user="$(grep "^$user:" "${root:-}/etc/passwd" | cut -d: -f3)"
own_group="$(grep "^$user:" "${root:-}/etc/group" | cut -d: -f3)"
install -d -m 0750 -o root -g "$own_group" "$etc"
if [ -n "$config" ]; then
  install -m 0640 -o root -g "$own_group" "$config" "$etc/agent.yaml"
elif [ ! -f "$etc/agent.yaml" ]; then
  install -m 0640 -o root -g "$own_group" "$source_dir/deploy/agent/examples/press-line-modbus-tcp.yaml" "$etc/agent.yaml"
  say "no --config: copied an example to $etc/agent.yaml; edit it before starting"
  start=false
fi
if [ -n "$ca" ]; then
  install -m 0644 "$ca" "$etc/ca.pem"
fi
if [ ! -f "$etc/agent.env" ]; then
  install -m 0640 -o root -g "$own_group" /dev/null "$etc/agent.env"
  echo "# Secrets for agent.yaml's \${VAR}s, e.g. RV_MQTT_PASSWORD=..." > "$etc/agent.env"
fi
if [ ! -f "$etc/agent.key" ]; then
  "$agent" keygen --out "$etc/agent.key" >/dev/null
  say "made the agent's key pair: $etc/agent.key (secret), $etc/agent.key.pub"
fi
# The key is the agent's identity: readable by the agent's user only, never rewritten here.
chown "$own_user:$own_group" "$etc/agent.key"
chmod 0400 "$etc/agent.key"

# --- 4. the unit -------------------------------------------------------------------------------
install -d "$unit_dir"
install -m 0644 "$here/retrofit-agent.service" "$unit_dir/retrofit-agent.service"
if [ -n "$root" ]; then
  systemctl --root="$root" enable retrofit-agent.service >/dev/null 2>&1 \
    || { mkdir -p "$unit_dir/multi-user.target.wants"; \
         ln -sf /etc/systemd/system/retrofit-agent.service "$unit_dir/multi-user.target.wants/"; }
  say "installed into $root (not started: a throw-away root)"
elif [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  systemctl enable retrofit-agent.service >/dev/null
  # The config's ${VAR}s come from agent.env, as the unit's EnvironmentFile gives them.
  if $start && (set -a; . "$etc/agent.env"; set +a; "$agent" check-config --offline "$etc/agent.yaml"); then
    systemctl restart retrofit-agent.service
    say "started: systemctl status retrofit-agent; journalctl -u retrofit-agent -f"
  else
    say "enabled, not started: edit $etc/agent.yaml, then systemctl start retrofit-agent"
  fi
else
  say "systemd is not running here: the unit is installed and enabled for the next boot"
fi
echo "install: register this public key in the implementation plan: $(cat "$etc/agent.key.pub")"
