#!/usr/bin/env bash
# Debian's chromium and chromium-driver, for the rating page's browser test: installed with apt
# when missing (as root, or through passwordless sudo). Without either the test is skipped and says
# why; nothing else needs a browser.
set -euo pipefail
if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
  exit 0
fi
if [ "$(id -u)" = 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  SUDO=(sudo -n)
else
  echo "browser.sh: chromium/chromium-driver missing and no root to install them: the browser test will be skipped" >&2
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "browser.sh: chromium/chromium-driver missing and no apt-get: the browser test will be skipped" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null 2>&1 \
  || { "${SUDO[@]}" apt-get update -qq >/dev/null && "${SUDO[@]}" apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null; }
