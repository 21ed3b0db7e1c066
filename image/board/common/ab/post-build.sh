#!/usr/bin/env bash
# Post-build step of the A/B boards: $1 is the target root filesystem. RAUC's system.conf
# (this board's compatible string, the slots), the fleet CA as RAUC's keyring, the EFI
# system partition's mount point (RAUC's GRUB backend edits grubenv there).
set -euo pipefail
TARGET=$1
: "${NVR_UPDATE_CA:?image/build sets NVR_UPDATE_CA (the fleet CA certificate)}"
mkdir -p "$TARGET/etc/rauc" "$TARGET/boot/efi"
sed -e "s|@NVR_RAUC_COMPATIBLE@|$NVR_RAUC_COMPATIBLE|g" "$COMMON_DIR/ab/system.conf" \
    > "$TARGET/etc/rauc/system.conf"
install -m 644 "$NVR_UPDATE_CA" "$TARGET/etc/rauc/keyring.pem"
cat >> "$TARGET/etc/fstab" <<'FSTAB'
# EFI system partition: GRUB, its grub.cfg and grubenv (the slots' boot state)
PARTLABEL=esp /boot/efi vfat umask=0077,noatime,nofail,x-systemd.device-timeout=90s 0 0
FSTAB
# RAUC's slot status (installed bundle versions, hashes) survives reboots on the data partition
printf 'd /var/lib/nvr-edge/rauc 0700 root root -\n' > "$TARGET/usr/lib/tmpfiles.d/nvr-edge-rauc.conf"
systemctl --root="$TARGET" enable nvr-update-commit.service nvr-update-reboot.path
