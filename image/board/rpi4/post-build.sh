#!/usr/bin/env bash
# Post-build step of the rpi4 board: $1 is the target root filesystem.
set -euo pipefail
TARGET=$1
# No battery-backed clock to trust at first boot: keep time with NTP.
systemctl --root="$TARGET" enable systemd-timesyncd.service
# A hardware watchdog: systemd pets it, and the board resets if PID 1 hangs.
mkdir -p "$TARGET/etc/systemd/system.conf.d"
printf '[Manager]\nRuntimeWatchdogSec=30s\nRebootWatchdogSec=2min\n' \
    > "$TARGET/etc/systemd/system.conf.d/watchdog.conf"
