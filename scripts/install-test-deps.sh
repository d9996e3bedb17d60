#!/usr/bin/env bash
# Installs the Debian packages listed in scripts/system-packages.txt (uses sudo when not root).
set -euo pipefail
cd "$(dirname "$0")"
packages=$(grep -v '^#' system-packages.txt | awk 'NF { print $1 }' | sort -u | tr '\n' ' ')
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
# The tests start every daemon themselves, on random loopback ports. A package's postinst would start its system
# service (rspamd, redis-server, prometheus, ...): in a container without systemd that start can fail and fail the
# install. A policy-rc.d that says 101 ("not allowed") makes invoke-rc.d and deb-systemd-invoke skip the start;
# one the machine already has is left alone.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  trap '$sudo rm -f "$policy"' EXIT
  printf '#!/bin/sh\n# scripts/install-test-deps.sh: no service starts while the test packages install\nexit 101\n' | $sudo tee "$policy" >/dev/null
  $sudo chmod 755 "$policy"
fi
$sudo apt-get update -qq
# shellcheck disable=SC2086
$sudo apt-get install -y -qq --no-install-recommends $packages >/dev/null
echo "installed: $packages"
