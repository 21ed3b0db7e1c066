#!/usr/bin/env bash
# Post-build step of the rk3588 board: $1 is the target root filesystem.
set -euo pipefail
exec "$(dirname "$0")/../common/real-hardware.sh" "$@"
