#!/usr/bin/env bash
# Post-image step of every board (Buildroot's BR2_ROOTFS_POST_IMAGE_SCRIPT): $1 is the
# images folder (kernel and initrd already there). genimage makes rootfs.squashfs, the
# data partition and disk.img from the board's genimage.cfg, whose @NVR_*@ placeholders
# are filled from the defconfig (the partition layout lives there, readable).
set -euo pipefail
BINARIES=$1
cfg="$BUILD_DIR/genimage.cfg"
sed -e "s|@NVR_DATA_SIZE@|$NVR_DATA_SIZE|g" \
    -e "s|@NVR_SQUASHFS_COMPRESSION@|$NVR_SQUASHFS_COMPRESSION|g" \
    -e "s|@NVR_BOOT_DIR@|$BUILD_DIR/boot|g" \
    -e "s|@NVR_ROOTFS_PARTITION_SIZE@|$NVR_ROOTFS_PARTITION_SIZE|g" \
    -e "s|@NVR_BOOT_PARTITION_SIZE@|${NVR_BOOT_PARTITION_SIZE:-}|g" \
    "$IMAGE_DIR/$NVR_GENIMAGE_CFG" > "$cfg"
if grep -q '@NVR_[A-Z_]*@' "$cfg"; then
    echo "post-image.sh: unfilled placeholder in $NVR_GENIMAGE_CFG: $(grep -o '@NVR_[A-Z_]*@' "$cfg" | head -1)" >&2
    exit 1
fi
rm -rf "$BUILD_DIR/genimage-tmp"
genimage --config "$cfg" --rootpath "$TARGET_DIR" --tmppath "$BUILD_DIR/genimage-tmp" \
    --inputpath "$BINARIES" --outputpath "$BINARIES"
rm -rf "$BUILD_DIR/genimage-tmp"
