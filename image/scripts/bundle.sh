#!/usr/bin/env bash
# bundle.sh IMAGES OUT.raucb VERSION: the signed RAUC update bundle (verity format) of an
# A/B board's build: its root slot (rootfs.squashfs) and boot slot (boot.ext2, as boot.img).
# Signed with NVR_UPDATE_KEY / NVR_UPDATE_CERT; the compatible string is the board's, so
# a box of another board refuses it. Also used by tests to make bundles with another
# version, another key or another compatible string.
#   NVR_RAUC_COMPATIBLE  the board's compatible string (from the defconfig)
set -euo pipefail
images=$1; out=$2; version=$3
: "${NVR_RAUC_COMPATIBLE:?}" "${NVR_UPDATE_KEY:?}" "${NVR_UPDATE_CERT:?}"
content=$(mktemp -d "${TMPDIR:-/tmp}/nvr-bundle.XXXXXX")
trap 'rm -rf "$content"' EXIT
# hard links: the bundle's squashfs reads them, nothing is copied
ln "$images/rootfs.squashfs" "$content/rootfs.squashfs" 2>/dev/null || cp "$images/rootfs.squashfs" "$content/"
# RAUC picks the handler by file name: *.img is a raw image (it has none for *.ext2)
ln "$images/boot.ext2" "$content/boot.img" 2>/dev/null || cp --sparse=always "$images/boot.ext2" "$content/boot.img"
cat > "$content/manifest.raucm" <<MANIFEST
[update]
compatible=$NVR_RAUC_COMPATIBLE
version=$version
description=nvr-edge $version for $NVR_RAUC_COMPATIBLE

[bundle]
format=verity

[image.rootfs]
filename=rootfs.squashfs

[image.boot]
filename=boot.img
MANIFEST
rm -f "$out"
# the root slot is compressed already; -comp zstd keeps the boot slot small and the build quick
rauc bundle --cert "$NVR_UPDATE_CERT" --key "$NVR_UPDATE_KEY" \
    --mksquashfs-args="-comp zstd -Xcompression-level 3" "$content" "$out"
