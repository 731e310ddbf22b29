#!/usr/bin/env bash
# Install Deepscreen with its test and training extras into .venv (if needed) and run the checks.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
# The review UI's browser test drives the system Chromium (never a downloaded browser).
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  command -v chromium >/dev/null && command -v chromedriver >/dev/null \
    || apt-get install -y -q chromium chromium-driver
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test,train,service]'
.venv/bin/ruff check src tests bench train
.venv/bin/python -m pytest "$@"
