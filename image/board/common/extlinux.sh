#!/usr/bin/env bash
# Post-image step of the boards booted by U-Boot (rk3588, rpi4): $1 is the images folder.
# Fills $BUILD_DIR/boot, the boot partition's content (genimage.cfg's @NVR_BOOT_DIR@):
# extlinux/extlinux.conf (U-Boot's distro boot reads it), the kernel, the initrd and the
# board's device trees (NVR_DTB_GLOB, from the kernel package).
set -euo pipefail
BINARIES=$1
boot="$BUILD_DIR/boot"
rm -rf "$boot"
mkdir -p "$boot/extlinux" "$boot/dtbs"
cp "$BINARIES/Image" "$BINARIES/initrd.img" "$boot/"
kver=$(cat "$BINARIES/kernel-version")
shopt -s nullglob
dtbs=("$TARGET_DIR/usr/lib/linux-image-$kver"/$NVR_DTB_GLOB)
if [ ${#dtbs[@]} -eq 0 ]; then
    # Debian's kernel may not carry this SoC's device trees yet: U-Boot's own is used then.
    echo "extlinux.sh: note: no device tree matches $NVR_DTB_GLOB in linux-image-$kver" >&2
fi
for dtb in "${dtbs[@]}"; do
    mkdir -p "$boot/dtbs/$(basename "$(dirname "$dtb")")"
    cp "$dtb" "$boot/dtbs/$(basename "$(dirname "$dtb")")/"
done
cat > "$boot/extlinux/extlinux.conf" <<CONF
default nvr-edge
timeout 1
label nvr-edge
    kernel /Image
    initrd /initrd.img
    fdtdir /dtbs
    append $NVR_KERNEL_CMDLINE
CONF
