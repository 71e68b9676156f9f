#!/usr/bin/env bash
# Installs the Debian 12 packages retl-relay builds and tests with. Idempotent: when every
# package is already installed it changes nothing and does not touch the network.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libboost1.81-dev libboost-json1.81-dev
  libssl-dev libcurl4-openssl-dev libsqlite3-dev sqlite3 libpq-dev
  libtomlplusplus-dev libcli11-dev
  libgtest-dev libgmock-dev
  curl
)
for arg in "$@"; do
  case "$arg" in
    --test) PACKAGES+=(prometheus postgresql python3 systemd) ;;  # promtool validates /metrics; a PostgreSQL to test against; systemd-analyze checks the unit
    --image) PACKAGES+=(podman runc mmdebstrap) ;;  # the container image, built from Debian packages (scripts/image-test.sh)
    --ui) PACKAGES+=(chromium chromium-driver python3-selenium) ;;  # the status page, in a real browser
    --fuzz) PACKAGES+=(clang-14 libclang-rt-14-dev) ;;   # libFuzzer and its sanitizer runtimes
    --bench) PACKAGES+=(wrk nginx-light) ;;
  esac
done

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps: missing packages: ${missing[*]}; run as root (or: sudo apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
