#!/usr/bin/env bash
# Install Deepscreen with its test and training extras into .venv (if needed) and run the checks.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  # The review UI's browser test drives the system Chromium (never a downloaded browser).
  command -v chromium >/dev/null && command -v chromedriver >/dev/null \
    || apt-get install -y -q chromium chromium-driver
  # Meta's vpdq (checks that our per-frame video hashes agree with it) builds against
  # FFmpeg's development headers; it is optional, and its test skips when it did not install.
  # Its CMake build asks pkg-config for all seven FFmpeg libraries.
  pkg-config --exists libavcodec libavformat libavdevice libavfilter libswresample libswscale \
      libavutil 2>/dev/null \
    || apt-get install -y -q pkg-config libavcodec-dev libavformat-dev libavdevice-dev \
         libavfilter-dev libswresample-dev libswscale-dev libavutil-dev \
    || echo "FFmpeg headers not installed: the vpdq compatibility test will skip" >&2
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test,train,service]'
.venv/bin/python -c 'import vpdq' 2>/dev/null \
  || .venv/bin/python -m pip install -q --disable-pip-version-check 'vpdq==0.2.5' \
  || echo "vpdq not installed: its compatibility test will skip" >&2
.venv/bin/ruff check src tests bench train
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
