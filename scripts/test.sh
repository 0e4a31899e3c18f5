#!/usr/bin/env bash
# Set up and run the whole test suite (what CI runs).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check src tests benchmarks
# Two workers: the suite is CPU-bound (imports, cube builds, browsers) and the machines have
# two cores; each worker builds its own session fixtures.
.venv/bin/python -m pytest -q -p no:cacheprovider -n "${BLI_TEST_WORKERS:-2}" "$@"
