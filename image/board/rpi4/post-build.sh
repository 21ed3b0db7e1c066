#!/usr/bin/env bash
# Post-build step of the rpi4 board: $1 is the target root filesystem.
set -euo pipefail
exec "$(dirname "$0")/../common/real-hardware.sh" "$@"
