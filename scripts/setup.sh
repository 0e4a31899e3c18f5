#!/usr/bin/env bash
# Set up everything Bli-atlas needs on a fresh machine: Debian packages (browser for the
# end-to-end tests, libraries for PDF rendering), the Python venv with the package, and
# the npm packages in package.json. Idempotent and quick when everything is present.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages. Add a package here (one per line) rather than a second apt-get call.
APT_PACKAGES=(
  libpango-1.0-0        # WeasyPrint (PDF reports): text layout
  libpangoft2-1.0-0     # WeasyPrint: fonts through FreeType
  libharfbuzz-subset0   # WeasyPrint: font subsetting
  fonts-dejavu-core     # fonts the reports use
  poppler-utils         # pdftoppm/pdftotext: checking report PDFs
  chromium              # web atlas end-to-end tests (Playwright, executable_path)
  chromium-driver       # WebDriver for the same browser
)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing Debian packages (run as root, or install them): ${missing[*]}" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Python.
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
if ! .venv/bin/python -c "import bliatlas" 2>/dev/null \
   || [ pyproject.toml -nt .venv/.installed ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e '.[test]'
  touch .venv/.installed
fi

# npm (front-end and test assets), from the lock file.
if [ -f package-lock.json ] && { [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; }; then
  npm ci --no-audit --no-fund --loglevel=error
  touch node_modules
fi
