#!/usr/bin/env bash
# The main job: set up, import ../shared/data into the embedded database, serve the atlas.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export BLI_DATABASE=${BLI_DATABASE:-var/bliatlas.duckdb}
DATA=${BLI_DATA:-../shared/data}
.venv/bin/bli import "$DATA"
exec .venv/bin/bli serve --host "${HOST:-127.0.0.1}" --port "${PORT:-8000}"
