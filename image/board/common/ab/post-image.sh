#!/usr/bin/env bash
# Post-image step of the A/B boards, before genimage: $1 is the images folder (Image,
# initrd.img there). Makes
#   boot.ext2   the slot's boot partition: Image + initrd.img (GRUB reads ext2; GRUB 2.06
#               cannot read a zstd squashfs, so the kernel is not in the root slot)
#   esp.vfat    the EFI system partition: EFI/BOOT/BOOTAA64.EFI (GRUB, the removable-media
#               path: no firmware boot entry to write), grub.cfg, grubenv (slot A good)
# and rewrites cmdline.txt for a lab's direct kernel boot of slot A (QEMU -kernel).
set -euo pipefail
BINARIES=$1
AB_DIR="$COMMON_DIR/ab"
work="$BUILD_DIR/ab"
rm -rf "$work"; mkdir -p "$work/boot" "$work/esp"

cp "$BINARIES/Image" "$BINARIES/initrd.img" "$work/boot/"
rm -f "$BINARIES/boot.ext2"
mke2fs -q -t ext2 -L boot -m 0 -d "$work/boot" "$BINARIES/boot.ext2" "$NVR_BOOT_PARTITION_SIZE"

# GRUB with every module it needs built in: the ESP carries no module folder.
chroot "$TARGET_DIR" grub-mkimage -O arm64-efi -p /EFI/BOOT -o /tmp/BOOTAA64.EFI \
    part_gpt fat ext2 normal configfile linux boot loadenv test echo regexp sleep reboot gzio
mv "$TARGET_DIR/tmp/BOOTAA64.EFI" "$work/esp/BOOTAA64.EFI"
# the modules are in BOOTAA64.EFI now; the slot needs only grub-editenv (RAUC's backend)
rm -rf "$TARGET_DIR/usr/lib/grub/arm64-efi"
sed -e "s|@NVR_KERNEL_CMDLINE@|$NVR_KERNEL_CMDLINE|g" \
    -e "s|@NVR_BOOT_A_PART@|$NVR_BOOT_A_PART|g" -e "s|@NVR_BOOT_B_PART@|$NVR_BOOT_B_PART|g" \
    "$AB_DIR/grub.cfg" > "$work/esp/grub.cfg"
if grep -q '@NVR_[A-Z_]*@' "$work/esp/grub.cfg"; then
    echo "ab/post-image.sh: unfilled placeholder in grub.cfg" >&2; exit 1
fi
# the first boot runs slot A, marked good (it is what the installer flashed)
chroot "$TARGET_DIR" grub-editenv /tmp/grubenv create
chroot "$TARGET_DIR" grub-editenv /tmp/grubenv set ORDER="A B" A_OK=1 A_TRY=0 B_OK=0 B_TRY=0
mv "$TARGET_DIR/tmp/grubenv" "$work/esp/grubenv"

rm -f "$BINARIES/esp.vfat"
mkfs.vfat -C -n ESP "$BINARIES/esp.vfat" $(( $(numfmt --from=iec "$NVR_ESP_SIZE") / 1024 )) >/dev/null
mmd -i "$BINARIES/esp.vfat" ::EFI ::EFI/BOOT
mcopy -i "$BINARIES/esp.vfat" "$work/esp/BOOTAA64.EFI" "$work/esp/grub.cfg" \
    "$work/esp/grubenv" ::EFI/BOOT/

echo "root=PARTLABEL=rootfs_a rauc.slot=A $NVR_KERNEL_CMDLINE" > "$BINARIES/cmdline.txt"
