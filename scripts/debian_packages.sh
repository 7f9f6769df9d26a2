#!/usr/bin/env bash
# Debian packages some tests run for real: chromium + chromium-driver (the rating page's browser
# test) and postgresql (the cluster profile's Dagster instance on Postgres). Installed with apt when
# missing, as root or through passwordless sudo; without either the tests that need them are
# skipped and say why. The demo needs none of them.
set -euo pipefail
missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
command -v pg_ctl >/dev/null || ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || missing+=(postgresql)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" = 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  SUDO=(sudo -n)
else
  echo "debian_packages.sh: ${missing[*]} missing and no root to install them: the tests that need them will be skipped" >&2
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "debian_packages.sh: ${missing[*]} missing and no apt-get: the tests that need them will be skipped" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 \
  || { "${SUDO[@]}" apt-get update -qq >/dev/null && "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
