#!/usr/bin/env bash
# Installs the Debian packages avspl1t needs when they are missing.
#   runtime: ffmpeg (ffprobe, libsvtav1, libaom, librav1e, libdav1d)
#   tests:   chromium (plays the output with hls.js and Shaka), postgresql (store tests),
#            haproxy and iproute2 (the chaos soak's load balancer and network namespaces)
# Usage: scripts/install-system-deps.sh [--tests]
set -euo pipefail
need=()
command -v ffmpeg >/dev/null 2>&1 && command -v ffprobe >/dev/null 2>&1 || need+=(ffmpeg)
if [ "${1:-}" = "--tests" ]; then
  [ -x /usr/bin/chromium ] || need+=(chromium)
  compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql)
  [ -x /usr/sbin/haproxy ] || need+=(haproxy)
  command -v ip >/dev/null 2>&1 || [ -x /usr/sbin/ip ] || need+=(iproute2)
fi
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
echo "installing Debian packages: ${need[*]}" >&2
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
