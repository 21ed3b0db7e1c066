#!/usr/bin/env bash
# Shared by the boards that boot on real hardware (rk3588, rpi4): $1 is the target rootfs.
set -euo pipefail
TARGET=$1
# No battery-backed clock to trust at first boot: keep time with NTP.
systemctl --root="$TARGET" enable systemd-timesyncd.service
# A hardware watchdog: systemd pets it, and the board resets if PID 1 hangs.
mkdir -p "$TARGET/etc/systemd/system.conf.d"
printf '[Manager]\nRuntimeWatchdogSec=30s\nRebootWatchdogSec=2min\n' \
    > "$TARGET/etc/systemd/system.conf.d/watchdog.conf"
# The rootfs is the one every arm64 board shares (one mmdebstrap for all, see the
# defconfigs); the A/B pieces in it wait for these boards' own A/B layout (docs/UPDATES.md):
# RAUC without a system.conf would fail at start, GRUB's EFI modules boot nothing here.
systemctl --root="$TARGET" mask rauc.service
rm -rf "$TARGET/usr/lib/grub/arm64-efi"
