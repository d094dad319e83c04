#!/usr/bin/env bash
# README's main job: the local end-to-end run with the plant simulator, ending in a report.
# After the one idempotent install step. `--quick` for a short run. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/../.."
./deploy/local/setup.sh
exec .venv/bin/python deploy/local/demo.py "$@"
