#!/usr/bin/env bash
# Post-build step of the qemu_aarch64_virt lab board: $1 is the target root filesystem.
set -euo pipefail
TARGET=$1
# The boot test talks to the guest over a virtio-serial port (tests/image/qemu.py).
systemctl --root="$TARGET" enable nvr-test-channel.service
# The shared rootfs has systemd-timesyncd for the real boards: here the clock is QEMU's,
# and no NTP query may leave the test machine.
systemctl --root="$TARGET" mask systemd-timesyncd.service
