"""Real RAUC bundles for tests: a development PKI (image/scripts/dev-pki.sh), small slot
images, and image/scripts/bundle.sh signing them for a given board and version. Shared by
the host tests (tests/update) and the QEMU ones (tests/image/test_update_ab.py)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "image" / "scripts"


def dev_pki(folder: Path, name: str = "test") -> Path:
    """A CA and a signing key issued by it (made once in `folder`)."""
    subprocess.run(["bash", str(SCRIPTS / "dev-pki.sh"), str(folder), name], check=True,
                   timeout=120)
    return folder


def make_bundle(images: Path, out: Path, version: str, *, pki: Path, board: str) -> Path:
    """image/scripts/bundle.sh with a given PKI and compatible string."""
    env = dict(os.environ, NVR_RAUC_COMPATIBLE=board,
               NVR_UPDATE_KEY=str(pki / "signing.key.pem"),
               NVR_UPDATE_CERT=str(pki / "signing.cert.pem"))
    done = subprocess.run(["bash", str(SCRIPTS / "bundle.sh"), str(images), str(out), version],
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"bundle.sh failed: {done.stdout}{done.stderr}"
    return out


def small_slot_images(folder: Path) -> Path:
    """A root and a boot image of a few hundred KiB: bundles that are refused, or that a
    host test downloads and checks."""
    folder.mkdir()
    content = folder / "content"
    content.mkdir()
    (content / "hello").write_text("not an appliance\n")
    # RAUC wants a bundle's squashfs larger than one 4 KiB block: incompressible bytes
    (content / "noise").write_bytes(os.urandom(256 * 1024))
    subprocess.run(["mksquashfs", str(content), str(folder / "rootfs.squashfs"), "-quiet",
                    "-noappend", "-comp", "zstd"], check=True, capture_output=True)
    subprocess.run(["mke2fs", "-q", "-t", "ext2", "-d", str(content),
                    str(folder / "boot.ext2"), "1M"], check=True)
    return folder
