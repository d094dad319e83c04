#!/usr/bin/env bash
# Runs the test suite against real servers (mosquitto, influxd, the plant simulator), after the
# one idempotent install step. Extra arguments go to pytest, e.g. `-k wire` or `-x`.
set -euo pipefail
cd "$(dirname "$0")/../.."
./deploy/local/setup.sh
exec .venv/bin/python -m pytest "$@"
