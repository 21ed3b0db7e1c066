"""One update through the `Updater`, on the host: a real HTTP server on 127.0.0.1, real
bundles (image/scripts/bundle.sh, a development PKI), the real `rauc info` checking their
signature. `rauc install` needs the image's slots and RAUC service: a stand-in script
prints what RAUC prints (tests/image/test_update_ab.py installs for real, under QEMU)."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nvr_edge.api import ControlError
from nvr_edge.update.progress import PENDING_FILE, RESULT_FILE, STATE_FILE, write_json
from nvr_edge.update.updater import BUNDLE_FILE, REBOOT_REQUEST, Updater, UpdaterSettings

from . import bundles
from .server import BundleServer, serve

BOARD = "nvr-edge-testboard"
STATUS: dict[str, Any] = {
    "cameras": {"cam1": {"state": "online"}, "cam2": {"state": "offline"}},
    "tiers": {}, "plugins": {"mqtt": {"connected": True}}}


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, BundleServer]]:
    """Bundles signed by the trusted PKI (versions 1.1.0, 1.2.0 claiming 9.9.9), by an
    untrusted one, and for another board; a RAUC whose `install` is a stand-in."""
    for tool in ("rauc", "mksquashfs", "mke2fs", "openssl"):
        if shutil.which(tool) is None:
            pytest.fail(f"host tool {tool} missing: bash ci/setup installs it")
    work = tmp_path_factory.mktemp("update-kit")
    trusted = bundles.dev_pki(work / "pki")
    other = bundles.dev_pki(work / "other-pki", "untrusted")
    images = bundles.small_slot_images(work / "images")
    files: dict[str, bytes | Path] = {}
    for name, version, pki, board in [("good", "1.1.0", trusted, BOARD),
                                      ("mislabelled", "9.9.9", trusted, BOARD),
                                      ("wrong-key", "1.1.0", other, BOARD),
                                      ("wrong-board", "1.1.0", trusted, "nvr-edge-rk3588")]:
        bundle = bundles.make_bundle(images, work / f"{name}.raucb", version, pki=pki,
                                     board=board)
        files[f"{name}.raucb"] = bundle.read_bytes()
    (work / "system.conf").write_text(f"[system]\ncompatible={BOARD}\nbootloader=grub\n\n"
                                      f"[keyring]\npath={trusted / 'ca.cert.pem'}\n")
    fake = work / "rauc"
    fake.write_text(f"""#!/bin/bash
# `rauc install` as the RAUC service reports it; anything else: the real rauc
if [ "$1" != install ]; then exec {shutil.which("rauc")} "$@"; fi
for p in 0 10 40 80; do echo "$p% Copying image to rootfs.1"; done
if [ -e "{work}/install-fails" ]; then
    echo "LastError: Installation error: Failed updating slot rootfs.1: write error"
    echo "Installing \\`$2' failed" >&2; exit 1
fi
echo "100% Installing done."; echo "Installing \\`$2' succeeded"
""")
    fake.chmod(0o755)
    with serve(files) as server:
        yield work, server


def updater(kit: tuple[Path, BundleServer], folder: Path, booted: str = "A",
            **kw: Any) -> Updater:
    work, _ = kit
    settings = UpdaterSettings(folder=folder, rauc=str(work / "rauc"),
                               system_conf=work / "system.conf", booted=booted,
                               running_version="1.0.0", reboot_delay_s=0.0, **kw)
    return Updater(settings, lambda: STATUS)


def finish(up: Updater, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while up.busy() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not up.busy(), "the update thread did not finish"
    return up.part()


def test_good_bundle_installs_then_the_gate_commits_it(kit: tuple[Path, BundleServer],
                                                       tmp_path: Path) -> None:
    _, server = kit
    up = updater(kit, tmp_path)
    seen: list[tuple[str, int]] = []
    percent = up.progress.percent
    up.progress.percent = lambda p: (seen.append((up.part()["state"], p)), percent(p))[1]
    answer = up.start({"url": f"{server.url}/good.raucb", "version": "1.1.0"})
    assert answer == {"accepted": True, "version": "1.1.0",
                      "bytes": len(kit[1].files["good.raucb"]), "slot": "B"}
    part = finish(up)
    assert part["state"] == "rebooting" and part["slot"] == "B", part
    assert ("downloading", 100) in seen
    assert [p for state, p in seen if state == "installing"] == [0, 10, 40, 80, 100]
    assert json.loads((tmp_path / PENDING_FILE).read_text()) == {
        "slot": "B", "version": "1.1.0", "cameras": ["cam1"], "mqtt": True,
        "timeout_s": 600, "from_version": "1.0.0", "from_slot": "A"}
    assert (tmp_path / REBOOT_REQUEST).exists()
    assert not (tmp_path / BUNDLE_FILE).exists()  # its space belongs to recordings again
    with pytest.raises(ControlError, match=r"another update is under way \(state rebooting\)"):
        up.start({"url": f"{server.url}/good.raucb", "version": "1.1.0"})

    # the reboot: slot B's appliance reads the state the files leave
    on_b = updater(kit, tmp_path, booted="B")
    assert on_b.part()["state"] == "testing"
    (tmp_path / PENDING_FILE).unlink()  # what the gate does when it commits
    write_json(tmp_path / RESULT_FILE, {"state": "committed", "version": "1.1.0", "slot": "B"})
    on_b.refresh()
    assert on_b.part()["state"] == "committed"


def test_rollback_is_reported_by_the_old_slot_with_the_gates_reason(
        kit: tuple[Path, BundleServer], tmp_path: Path) -> None:
    write_json(tmp_path / STATE_FILE, {"state": "testing", "version": "1.1.0"})
    write_json(tmp_path / PENDING_FILE, {"slot": "B", "version": "1.1.0"})
    on_a = updater(kit, tmp_path, booted="A")
    assert on_a.part()["state"] == "testing"  # the old slot's gate has not run yet
    (tmp_path / PENDING_FILE).unlink()
    write_json(tmp_path / RESULT_FILE, {"state": "rolled_back", "version": "1.1.0",
                                        "slot": "A", "reason": "camera cam1 closed no segment"})
    on_a.refresh()
    part = on_a.part()
    assert (part["state"], part["reason"]) == ("rolled_back", "camera cam1 closed no segment")


@pytest.mark.parametrize(("bundle", "version", "reason"), [
    ("wrong-key", "1.1.0", "signature check failed: .*unable to get local issuer certificate"),
    ("wrong-board", "1.1.0", "the bundle is for 'nvr-edge-rk3588', this box is "
                             f"'{BOARD}'"),
    ("mislabelled", "1.2.0", "the bundle is version 9.9.9, the request expected 1.2.0"),
])
def test_refused_bundles_fail_before_installing(kit: tuple[Path, BundleServer],
                                                tmp_path: Path, bundle: str, version: str,
                                                reason: str) -> None:
    up = updater(kit, tmp_path)
    up.start({"url": f"{kit[1].url}/{bundle}.raucb", "version": version})
    part = finish(up)
    assert part["state"] == "failed", part
    assert __import__("re").search(reason, part["reason"]), part["reason"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [STATE_FILE]  # no bundle, no orders


def test_hash_mismatch_and_install_error_fail_with_the_reason(
        kit: tuple[Path, BundleServer], tmp_path: Path) -> None:
    work, server = kit
    up = updater(kit, tmp_path)
    up.start({"url": f"{server.url}/good.raucb", "version": "1.1.0", "sha256": "ab" * 32})
    assert finish(up)["reason"].startswith("sha256 mismatch")
    (work / "install-fails").touch()
    try:
        up.start({"url": f"{server.url}/good.raucb", "version": "1.1.0"})
        part = finish(up)
    finally:
        (work / "install-fails").unlink()
    assert part["reason"] == "Installation error: Failed updating slot rootfs.1: write error"
    assert not (tmp_path / PENDING_FILE).exists() and not (tmp_path / REBOOT_REQUEST).exists()


def test_refused_at_once_short_of_space_unreachable_or_downgrade(
        kit: tuple[Path, BundleServer], tmp_path: Path) -> None:
    _, server = kit
    full = updater(kit, tmp_path, reserve_bytes=shutil.disk_usage(tmp_path).free)
    with pytest.raises(ControlError, match="update refused: the data partition has"):
        full.start({"url": f"{server.url}/good.raucb", "version": "1.1.0"})
    up = updater(kit, tmp_path)
    with pytest.raises(ControlError, match="update refused: the server answered 404"):
        up.start({"url": f"{server.url}/none.raucb", "version": "1.1.0"})
    with pytest.raises(ControlError, match=r"older than the running 1\.0\.0"):
        up.start({"url": f"{server.url}/good.raucb", "version": "0.9"})
    assert up.part()["state"] == "idle"
    assert not server.requests or server.requests[-1][1] != "/good.raucb" or \
        server.requests[-1][0] == "HEAD"  # refused: nothing downloaded


def test_a_restart_while_installing_is_a_failure_and_a_retry_starts_over(
        kit: tuple[Path, BundleServer], tmp_path: Path) -> None:
    write_json(tmp_path / STATE_FILE, {"state": "installing", "version": "1.1.0"})
    up = updater(kit, tmp_path)  # the box came back on the old slot
    part = up.part()
    assert part["state"] == "failed" and "interrupted while installing" in part["reason"]
    up.start({"url": f"{kit[1].url}/good.raucb", "version": "1.1.0"})
    assert finish(up)["state"] == "rebooting"
