#!/usr/bin/env bash
# Installs the Debian packages listed in scripts/system-packages.txt (uses sudo when not root).
set -euo pipefail
cd "$(dirname "$0")"
packages=$(grep -v '^#' system-packages.txt | awk 'NF { print $1 }' | sort -u | tr '\n' ' ')
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# shellcheck disable=SC2086
$sudo apt-get install -y -qq --no-install-recommends $packages >/dev/null
echo "installed: $packages"
