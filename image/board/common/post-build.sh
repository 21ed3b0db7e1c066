#!/usr/bin/env bash
# Post-build step of every board (Buildroot's BR2_ROOTFS_POST_BUILD_SCRIPT): $1 is the target
# root filesystem, which already holds the Debian packages, the Python app and the
# overlays. Runs on the host: nothing here needs emulation.
set -euo pipefail
TARGET=$1

# Disks and network ports from the board definition (hw/<board>.toml).
python3 "$IMAGE_DIR/scripts/hw-apply.py" "$SRC_DIR/$NVR_HW_DEFINITION" "$TARGET"

# Users are made now: /etc is read-only on the device.
systemd-sysusers --root="$TARGET"

ln -sf /opt/nvr-edge/bin/nvr-edge "$TARGET/usr/bin/nvr-edge"
systemctl --root="$TARGET" enable nvr-edge.service systemd-networkd.service
# Nothing waits for "network online" (cameras and brokers come and go; the appliance
# retries), and a camera port without a cable would fail the wait unit at every boot.
systemctl --root="$TARGET" disable systemd-networkd-wait-online.service
# Periodic jobs for writable, apt-managed systems.
for unit in e2scrub_all.timer e2scrub_reap.service; do
    [ -e "$TARGET/usr/lib/systemd/system/$unit" ] && systemctl --root="$TARGET" disable "$unit"
done

# An empty machine-id on a read-only root: systemd makes a new one in RAM at each boot,
# so no two boxes flashed from this image share one.
: > "$TARGET/etc/machine-id"
rm -f "$TARGET/var/lib/dbus/machine-id"

# udev's hardware database cannot be compiled at boot on a read-only root: compile it now,
# with the target's own systemd-hwdb (under qemu-user; the build host may have no udev).
chroot "$TARGET" systemd-hwdb update --usr

# The image has no apt; the host's sources (its mirror names) stay out of it.
rm -rf "$TARGET"/etc/apt/sources.list.d/* "$TARGET/etc/apt/sources.list" \
    "$TARGET"/var/lib/apt/lists/* "$TARGET"/var/cache/apt/*
