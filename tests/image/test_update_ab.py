"""A/B updates of the appliance image under QEMU (docs/UPDATES.md).

UEFI firmware (Debian's QEMU_EFI.fd) starts GRUB from the disk's EFI system partition; GRUB
picks a slot from RAUC's variables in grubenv and counts the attempt; `nvr-update-commit`
marks the booted slot good once user space is up. RAUC in the guest installs bundles from
a second, read-only virtio disk (no network copy of 200 MB under TCG) in the first cases.

The later cases drive the box like a fleet operator: the `update` request over MQTT (the
host's Mosquitto), the bundle over HTTP from the host (10.0.2.2 in the guest), the states on
the retained `<base>/update` topic, a host camera recording throughout. They need the slot
only as "the other one", so they run after the first cases or alone (-k).

Marker `update`: not in `ci/test` (pyproject's addopts deselect it; the image suite
already takes most of CI's budget). Run with `bash ci/test-updates`. Timings go to
image/output/<board>/update-test.json.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from nvr_edge_testing.simcam import SimCameraServer

from tests.update import bundles
from tests.update.bundles import small_slot_images
from tests.update.server import BundleServer, serve

from .guest import appliance_config, guest_segments, iso_ms
from .mqtt import TOPIC_BASE, Broker, Subscriber
from .qemu import HOST_FROM_GUEST, IMAGES, REPO, ChannelTimeout, QemuVM, build_image, make_disk

pytestmark = [pytest.mark.slow, pytest.mark.image, pytest.mark.update,
              pytest.mark.timeout(3600)]

BOOT_TIMEOUT = 600  # firmware + GRUB + kernel under TCG, on a shared 2-core host
GRUBENV = "/boot/efi/EFI/BOOT/grubenv"
BUNDLES = "/run/bundles"  # where the guest mounts the bundle disk
PKI = REPO / "image" / "output" / "dev-pki"  # image/build's development PKI
SCRIPTS = REPO / "image" / "scripts"
DEFCONFIG = REPO / "image" / "configs" / "qemu_aarch64_virt_defconfig"
MEASURED: dict[str, object] = {}


def record(key: str, value: object) -> None:
    MEASURED[key] = round(value, 1) if isinstance(value, float) else value
    (IMAGES.parent / "update-test.json").write_text(json.dumps(MEASURED, indent=1) + "\n")


def compatible() -> str:
    match = re.search(r'^NVR_RAUC_COMPATIBLE="([^"]+)"$', DEFCONFIG.read_text(), re.M)
    assert match, f"{DEFCONFIG}: no NVR_RAUC_COMPATIBLE"
    return match.group(1)


def make_bundle(images: Path, out: Path, version: str, *, pki: Path = PKI,
                board: str | None = None) -> Path:
    return bundles.make_bundle(images, out, version, pki=pki, board=board or compatible())


@pytest.fixture(scope="module")
def manifest() -> dict:
    for tool in ("qemu-system-aarch64", "rauc", "mksquashfs", "mke2fs", "openssl"):
        if shutil.which(tool) is None:
            pytest.fail(f"host tool {tool} missing: install image/host-packages.txt")
    started = time.monotonic()
    manifest = build_image()
    MEASURED.clear()
    record("build_or_reuse_s", time.monotonic() - started)
    record("bundle_mb", (IMAGES / "update.raucb").stat().st_size / 2**20)
    return manifest


@pytest.fixture(scope="module")
def bundle_disk(manifest: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An ext4 image labelled `bundles` holding good.raucb (the build's own bundle),
    wrong-key.raucb (signed by a CA the image does not trust) and wrong-board.raucb
    (signed by the trusted key, for rk3588)."""
    work = tmp_path_factory.mktemp("bundles")
    folder = work / "files"
    folder.mkdir()
    os.link(IMAGES / "update.raucb", folder / "good.raucb")
    small = small_slot_images(work / "small")
    other_pki = work / "other-pki"
    subprocess.run(["bash", str(SCRIPTS / "dev-pki.sh"), str(other_pki), "untrusted"],
                   check=True)
    make_bundle(small, folder / "wrong-key.raucb", "9.9.9", pki=other_pki)
    make_bundle(small, folder / "wrong-board.raucb", "9.9.9", board="nvr-edge-rk3588")
    size = sum(f.stat().st_size for f in folder.iterdir()) * 11 // 10 + 16 * 2**20
    disk = work / "bundles.ext4"
    subprocess.run(["mke2fs", "-q", "-t", "ext4", "-L", "bundles", "-d", str(folder),
                    str(disk), f"{size // 1024}k"], check=True)
    return disk


@pytest.fixture(scope="module")
def camera(clip_cache: Path, small_clip: Any) -> Iterator[SimCameraServer]:
    with SimCameraServer(clip_cache, cameras=1, user="admin", password="upd-Pw-5521",
                         main=small_clip, sub=small_clip,
                         log_path=clip_cache / "update-camera.log") as server:
        yield server


@pytest.fixture(scope="module")
def vm(manifest: dict, bundle_disk: Path, camera: SimCameraServer, broker: Broker,
       mqtt: Subscriber, tmp_path_factory: pytest.TempPathFactory) -> Iterator[QemuVM]:
    work = tmp_path_factory.mktemp("qemu-ab")
    # the boot test's configuration (a host camera, the host's broker); a marker file
    url = camera.url(1).replace("@127.0.0.1:", f"@{HOST_FROM_GUEST}:")
    disk = make_disk(work / "disk.img", {"before-update": "kept\n",
                                         "nvr-edge.toml": appliance_config(url, broker.port)})
    machine = QemuVM(work, disk, firmware=True, extra_disks=(bundle_disk,)).start()
    try:
        record("boot_to_channel_s", machine.wait_channel(BOOT_TIMEOUT))
        machine.run(f"mkdir -p {BUNDLES} && mount -o ro LABEL=bundles {BUNDLES}")
        yield machine
    finally:
        machine.stop()
        shutil.copyfile(machine.console_log, IMAGES.parent / "update-test-console.log")


def grubenv(vm: QemuVM) -> dict[str, str]:
    lines = vm.run(f"grub-editenv {GRUBENV} list").output.splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line)


def rauc_status(vm: QemuVM) -> dict:
    # stderr apart: RAUC logs there (e.g. "no bootable slot in ORDER" while a slot is on trial)
    return json.loads(vm.run("rauc status --detailed --output-format=json 2>/dev/null",
                             timeout=180).output)


def wait_committed(vm: QemuVM, slot: str, timeout: float = 600) -> dict[str, str]:
    """Wait until the commit unit has reset the booted slot's attempt counter."""
    deadline = time.monotonic() + timeout
    env: dict[str, str] = {}
    while time.monotonic() < deadline:
        env = grubenv(vm)
        if env.get(f"{slot}_OK") == "1" and env.get(f"{slot}_TRY") == "0":
            return env
        time.sleep(3)
    raise AssertionError(f"slot {slot} not committed within {timeout:.0f} s: grubenv {env}\n"
                         + vm.run("journalctl -u nvr-update-commit --no-pager -n 30",
                                  check=False).output)


def boot_id(vm: QemuVM) -> str:
    return vm.run("cat /proc/sys/kernel/random/boot_id").output.strip()


def reboot(vm: QemuVM, timeout: float = BOOT_TIMEOUT) -> float:
    """`systemctl reboot` in the guest; returns the seconds until the new boot answers."""
    before = boot_id(vm)
    started = time.monotonic()
    vm.run("systemctl reboot", check=False)
    vm.disconnect()
    return new_boot(vm, before, timeout, started)


def new_boot(vm: QemuVM, before: str, timeout: float = BOOT_TIMEOUT,
             started: float | None = None) -> float:
    """Wait until the guest answers from a boot other than `before`; seconds since
    `started` (default: now)."""
    started = time.monotonic() if started is None else started
    deadline = started + timeout
    while time.monotonic() < deadline:
        try:
            if boot_id(vm) != before:
                return time.monotonic() - started
        except (ChannelTimeout, OSError):
            vm.disconnect()
        time.sleep(2)
    raise AssertionError(f"the guest did not come back within {timeout:.0f} s; console:\n"
                         f"{vm.console_tail()}")


def slot_b_untouched(vm: QemuVM) -> bool:
    """Slot B's partitions were never written (zeros from the image build)."""
    return all(vm.run(f"cmp -s -n 1048576 /dev/disk/by-partlabel/{name} /dev/zero",
                      check=False).rc == 0 for name in ("rootfs_b", "boot_b"))


def test_firmware_boots_slot_a_and_commits_it(vm: QemuVM) -> None:
    cmdline = vm.run("cat /proc/cmdline").output
    assert "root=PARTLABEL=rootfs_a" in cmdline and "rauc.slot=A" in cmdline, cmdline
    assert "nvr-edge: slot A, attempt 1 of 3" in vm.console
    env = wait_committed(vm, "A")
    assert env["ORDER"] == "A B" and env["B_OK"] == "0", env
    status = rauc_status(vm)
    assert status["booted"] == "A" and status["compatible"] == compatible(), status
    assert vm.run("findmnt -no FSTYPE,OPTIONS /").output.startswith("squashfs ro")
    assert vm.run("findmnt -no FSTYPE /boot/efi").output.strip() == "vfat"
    assert vm.run("systemctl is-active nvr-edge.service", check=False).output.strip() in (
        "active", "activating")


@pytest.mark.parametrize(("bundle", "reason"), [
    ("wrong-key.raucb", r"signature|verif|certificate"),
    ("wrong-board.raucb", r"[Cc]ompatible"),
])
def test_bundle_refused_before_anything_is_written(vm: QemuVM, bundle: str,
                                                   reason: str) -> None:
    before = grubenv(vm)
    reply = vm.run(f"rauc install {BUNDLES}/{bundle}", timeout=300, check=False)
    assert reply.rc != 0, reply.output
    assert re.search(reason, reply.output), reply.output
    assert grubenv(vm) == before
    assert slot_b_untouched(vm)
    assert rauc_status(vm)["booted"] == "A"


def test_good_bundle_installs_to_slot_b_which_boots_and_is_committed(
        vm: QemuVM, manifest: dict) -> None:
    info = vm.run(f"rauc info --output-format=json {BUNDLES}/good.raucb 2>/dev/null",
                  timeout=300).output
    bundle_version = json.loads(info)["version"]
    started = time.monotonic()
    reply = vm.run(f"rauc install {BUNDLES}/good.raucb", timeout=1800, check=False)
    record("install_s", time.monotonic() - started)
    assert reply.rc == 0, reply.output
    env = grubenv(vm)
    assert env["ORDER"] == "B A" and env["B_OK"] == "1" and env["B_TRY"] == "0", env
    assert not slot_b_untouched(vm)

    record("reboot_to_channel_s", reboot(vm))
    cmdline = vm.run("cat /proc/cmdline").output
    assert "root=PARTLABEL=rootfs_b" in cmdline and "rauc.slot=B" in cmdline, cmdline
    assert "nvr-edge: slot B, attempt 1 of 3" in vm.console
    env = wait_committed(vm, "B")
    assert env["A_OK"] == "1", env  # the old slot stays bootable: the way back
    status = rauc_status(vm)
    assert status["booted"] == "B", status
    slots = {name: info for entry in status["slots"] for name, info in entry.items()}
    assert slots["rootfs.1"]["slot_status"]["bundle"]["version"] == bundle_version, slots
    # the data partition is not part of any slot
    assert vm.run("cat /var/lib/nvr-edge/before-update").output == "kept"


# -- the `update` command over MQTT, like a fleet operator -------------------------------

REQUEST_TIMEOUT = 300     # the guest's HEAD request to the host, under TCG
INSTALL_TIMEOUT = 1800    # 200 MB through QEMU's user network, then RAUC writing a slot
GATE_TIMEOUT = 1500       # reboot, the appliance up, a segment closed, the gate's verdict
BROKEN_HEALTH_TIMEOUT = 120  # the failing app's slot: the gate gives up after this long
OTHER = {"A": "B", "B": "A"}


@pytest.fixture(scope="module")
def bundle_server(manifest: dict, tmp_path_factory: pytest.TempPathFactory
                  ) -> Iterator[tuple[BundleServer, Path]]:
    """HTTP on the host's 127.0.0.1 (the guest's 10.0.2.2), serving the files of a folder
    the cases fill with bundles as they need them."""
    folder = tmp_path_factory.mktemp("served")
    files: dict[str, bytes | Path] = {}
    with serve(files) as server:
        yield server, folder


def offer(bundle_server: tuple[BundleServer, Path], bundle: Path) -> str:
    """Serve `bundle`; its URL as the guest sees it."""
    server, _ = bundle_server
    server.files[bundle.name] = bundle
    return f"{server.url.replace('127.0.0.1', HOST_FROM_GUEST)}/{bundle.name}"


def release_bundle(bundle_server: tuple[BundleServer, Path], version: str) -> Path:
    """The build's own slot images, signed as `version` (a new release of the same code)."""
    out = bundle_server[1] / f"nvr-edge-{version}.raucb"
    if not out.exists():
        make_bundle(IMAGES, out, version)
    return out


def broken_app_bundle(bundle_server: tuple[BundleServer, Path], version: str) -> Path:
    """The build's root with an appliance that exits at start: the kernel, systemd and the
    commit unit work, the health gate sees no running appliance."""
    folder = bundle_server[1]
    images = folder / "broken-images"
    root = folder / "broken-root"
    images.mkdir()
    subprocess.run(["unsquashfs", "-q", "-d", str(root), str(IMAGES / "rootfs.squashfs")],
                   check=True, capture_output=True, timeout=1200)
    start = root / "usr/libexec/nvr-edge/start"
    start.write_text("#!/bin/sh\necho 'nvr-edge: this build fails at start (update test)'\n"
                     "exit 1\n")
    subprocess.run(["mksquashfs", str(root), str(images / "rootfs.squashfs"), "-noappend",
                    "-quiet", "-comp", "zstd", "-Xcompression-level", "1"],
                   check=True, capture_output=True, timeout=1800)
    shutil.rmtree(root)
    link_or_copy(IMAGES / "boot.ext2", images / "boot.ext2")
    return make_bundle(images, folder / f"broken-{version}.raucb", version)


def link_or_copy(source: Path, dest: Path) -> None:
    try:
        os.link(source, dest)
    except OSError:  # another file system
        shutil.copyfile(source, dest)


def sha256_of(path: Path) -> str:
    return subprocess.run(["sha256sum", str(path)], check=True, capture_output=True,
                          text=True).stdout.split()[0]


def request(broker: Broker, mqtt: Subscriber, args: dict[str, Any]) -> dict[str, Any]:
    """An `update` request on `<base>/request/update`; its answer."""
    transaction = f"t{time.monotonic_ns()}"
    subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker.port), "-q", "1",
                    "-t", f"{TOPIC_BASE}/request/update",
                    "-m", json.dumps({"transaction": transaction, **args})], check=True)
    answer = mqtt.wait_for(f"{TOPIC_BASE}/response/update", None, REQUEST_TIMEOUT,
                           contains=transaction)
    return json.loads(answer.payload)


def update_state(mqtt: Subscriber, state: str, version: str, timeout: float,
                 after: float = 0.0, running: str | None = None) -> tuple[float, dict[str, Any]]:
    """The first `<base>/update` message in `state` for `version` after `after` (and, if
    given, with `running_version` = `running`: RAUC says it a moment after the start):
    (host monotonic arrival, payload). Fails early on another end state."""
    deadline = time.monotonic() + timeout
    seen: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        seen = [json.loads(m.payload) | {"_at": m.at} for m in list(mqtt.messages)
                if m.topic == f"{TOPIC_BASE}/update" and m.at > after and m.payload]
        for doc in seen:
            if doc.get("version") != version:
                continue
            if doc.get("state") == state:
                if running is None or doc.get("running_version") == running:
                    return doc.pop("_at"), doc
                continue
            if doc.get("state") in ("failed", "rolled_back", "committed") and \
                    state not in ("failed", "rolled_back", "committed"):
                raise AssertionError(f"update {version} ended {doc} while waiting for {state}")
        time.sleep(1)
    raise AssertionError(f"no update state {state!r} for {version} within {timeout:.0f} s; "
                         f"seen: {[(d.get('state'), d.get('percent')) for d in seen][-12:]}")


def booted(vm: QemuVM) -> str:
    match = re.search(r"rauc\.slot=(\w)", vm.run("cat /proc/cmdline").output)
    assert match, "no rauc.slot= on the kernel command line"
    return match.group(1)


def boot_ms(vm: QemuVM) -> int:
    """This boot's start on the guest's clock (segments carry the same clock)."""
    return int(vm.run("echo $(( $(date +%s%3N) - $(cut -d. -f1 /proc/uptime) * 1000 ))")
               .output)


def segments(vm: QemuVM) -> list[dict[str, Any]]:
    return sorted(guest_segments(vm), key=lambda s: s["start_ms"])


def wait_segment_since(vm: QemuVM, since_ms: int, timeout: float = 600) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reply = vm.run("cat /var/lib/nvr-edge/state/status.json", check=False)
        with contextlib.suppress(ValueError):
            last = json.loads(reply.output)["cameras"]["cam1"].get("last_segment") or {}
            if last and iso_ms(last["start"]) >= since_ms:
                return last
        time.sleep(3)
    raise AssertionError(f"cam1 closed no segment within {timeout:.0f} s:\n" + vm.run(
        "journalctl -u nvr-edge -n 30 --no-pager", check=False).output)


def playable(vm: QemuVM, segment: dict[str, Any], work: Path) -> float:
    """Copy a segment out of the guest and decode it on the host; its seconds of video."""
    path = segment["path"]
    if not path.startswith("/"):
        path = f"/var/lib/nvr-edge/{segment['tier']}/{path}"
    data = vm.run(f"base64 -w0 {path}", timeout=300).output
    local = work / "segment.mp4"
    local.write_bytes(base64.b64decode(data))
    probe = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
                            "-show_entries", "stream=nb_read_frames,duration", "-of", "json",
                            str(local)], capture_output=True, text=True, timeout=120)
    assert probe.returncode == 0, probe.stderr
    stream = json.loads(probe.stdout)["streams"][0]
    assert int(stream["nb_read_frames"]) > 0, stream
    return float(stream.get("duration") or 0)


def assert_kept(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> None:
    """Every segment listed before is listed still (the tier mover may have moved it)."""
    kept = {(r["camera"], r["start_ms"], r["end_ms"]) for r in after}
    lost = [r["start"] for r in before if (r["camera"], r["start_ms"], r["end_ms"]) not in kept]
    assert not lost, f"recordings lost: {lost}"


def downtime_s(rows: list[dict[str, Any]], boot: int) -> float:
    """Last segment's end before this boot to the first segment's start after it."""
    before = [r["end_ms"] for r in rows if r["start_ms"] < boot]
    after = [r["start_ms"] for r in rows if r["start_ms"] >= boot]
    assert before and after, "no segment on one side of the reboot"
    return (min(after) - max(before)) / 1000


def test_update_over_mqtt_commits_and_keeps_recording(
        vm: QemuVM, broker: Broker, mqtt: Subscriber,
        bundle_server: tuple[BundleServer, Path], tmp_path: Path) -> None:
    version = "0.2.1"
    bundle = release_bundle(bundle_server, version)
    url = offer(bundle_server, bundle)
    slot = booted(vm)
    wait_segment_since(vm, boot_ms(vm))
    before = segments(vm)
    old_boot = boot_id(vm)
    digest = sha256_of(bundle)

    guest_sent = int(vm.run("date +%s%3N").output)
    sent = time.monotonic()
    answer = request(broker, mqtt, {"url": url, "version": version, "sha256": digest})
    assert answer["status"] == "ok", answer
    assert answer["data"] == {"accepted": True, "version": version,
                              "bytes": bundle.stat().st_size, "slot": OTHER[slot]}
    again = request(broker, mqtt, {"url": url, "version": version})
    assert again["status"] == "error" and "another update is under way" in again["error"]

    update_state(mqtt, "downloading", version, 60, after=sent)
    installing, _ = update_state(mqtt, "installing", version, INSTALL_TIMEOUT, after=sent)
    rebooting, doc = update_state(mqtt, "rebooting", version, INSTALL_TIMEOUT, after=sent)
    assert doc["slot"] == OTHER[slot], doc
    record("mqtt_download_and_verify_s", installing - sent)
    record("mqtt_install_s", rebooting - installing)
    new_boot(vm, old_boot, started=rebooting)
    record("mqtt_rebooting_to_channel_s", time.monotonic() - rebooting)
    committed, _ = update_state(mqtt, "committed", version, GATE_TIMEOUT, after=rebooting)
    record("mqtt_rebooting_to_committed_s", committed - rebooting)
    _, doc = update_state(mqtt, "committed", version, 120, after=rebooting, running=version)
    record("mqtt_request_to_committed_s", committed - sent)
    assert (doc["running_version"], doc["booted_slot"]) == (version, OTHER[slot]), doc
    assert booted(vm) == OTHER[slot]
    assert grubenv(vm)[f"{OTHER[slot]}_TRY"] == "0"
    # the states in their order (one shorter than the 2 s status period may be skipped)
    order = ["downloading", "verifying", "installing", "rebooting", "testing", "committed"]
    states = [json.loads(m.payload)["state"] for m in list(mqtt.messages)
              if m.topic == f"{TOPIC_BASE}/update" and m.at > sent and m.payload]
    shown = [order.index(state) for state in dict.fromkeys(states)]
    assert shown == sorted(shown) and {0, 2, 3, 5} <= set(shown), states
    percents = [json.loads(m.payload).get("percent") for m in list(mqtt.messages)
                if m.topic == f"{TOPIC_BASE}/update" and m.at > sent and m.payload]
    assert any(p is not None and 0 < p < 100 for p in percents), percents

    rows = segments(vm)
    assert_kept(before, rows)
    # the oldest recording from before the update, where the catalog says it is now
    oldest = next(r for r in rows if r["start_ms"] == before[0]["start_ms"])
    assert playable(vm, oldest, tmp_path) > 0
    boot = boot_ms(vm)
    assert any(r["start_ms"] >= boot for r in rows), "recording did not resume"
    record("update_downtime_s", downtime_s(rows, boot))
    # recording went on while the bundle downloaded and installed
    during = [r for r in rows if guest_sent <= r["start_ms"] and r["end_ms"] <= boot]
    assert during, "no segment closed between the request and the reboot"
    record("recorded_share_request_to_reboot",
           round(sum(r["end_ms"] - r["start_ms"] for r in during) / (boot - guest_sent), 3))


def test_app_failing_at_start_is_rolled_back_by_the_gate(
        vm: QemuVM, broker: Broker, mqtt: Subscriber,
        bundle_server: tuple[BundleServer, Path]) -> None:
    version = "0.2.2"
    url = offer(bundle_server, broken_app_bundle(bundle_server, version))
    slot = booted(vm)
    running = rauc_status(vm)
    wait_segment_since(vm, boot_ms(vm))
    before = segments(vm)
    old_boot = boot_id(vm)

    sent = time.monotonic()
    answer = request(broker, mqtt, {"url": url, "version": version,
                                    "health_timeout_s": BROKEN_HEALTH_TIMEOUT})
    assert answer["status"] == "ok", answer
    rebooting, _ = update_state(mqtt, "rebooting", version, INSTALL_TIMEOUT, after=sent)
    rolled, doc = update_state(mqtt, "rolled_back", version, GATE_TIMEOUT + 900,
                               after=rebooting)
    record("rollback_rebooting_to_rolled_back_s", rolled - rebooting)
    assert doc["booted_slot"] == slot, doc
    assert "camera cam1 closed no segment since the boot" in doc["reason"], doc
    assert re.search(r"not running|stale|wrote no status", doc["reason"]), doc
    new_boot(vm, old_boot)  # the channel again, after two reboots
    assert booted(vm) == slot
    env = grubenv(vm)
    assert env[f"{OTHER[slot]}_OK"] == "0" and env[f"{slot}_OK"] == "1", env
    assert rauc_status(vm)["booted"] == running["booted"]
    assert_kept(before, segments(vm))
    wait_segment_since(vm, boot_ms(vm))  # the old slot records again


def test_power_cut_while_installing_fails_and_a_retry_succeeds(
        vm: QemuVM, broker: Broker, mqtt: Subscriber,
        bundle_server: tuple[BundleServer, Path]) -> None:
    version = "0.2.3"
    url = offer(bundle_server, release_bundle(bundle_server, version))
    slot = booted(vm)
    wait_segment_since(vm, boot_ms(vm))
    before = segments(vm)
    old_boot = boot_id(vm)
    sent = time.monotonic()
    assert request(broker, mqtt, {"url": url, "version": version})["status"] == "ok"
    update_state(mqtt, "installing", version, INSTALL_TIMEOUT, after=sent)
    time.sleep(5)  # RAUC is checking or writing the other slot
    vm.hard_reset()
    cut = time.monotonic()
    new_boot(vm, old_boot, started=cut)
    failed, doc = update_state(mqtt, "failed", version, GATE_TIMEOUT, after=cut)
    record("power_cut_to_failed_s", failed - cut)
    assert "interrupted while installing" in doc["reason"], doc
    assert booted(vm) == slot and doc["booted_slot"] == slot
    # nothing recorded before the cut is lost (the catalog and the segments are fsynced)
    assert_kept(before, segments(vm))
    wait_segment_since(vm, boot_ms(vm))  # the old slot records again
    record("power_cut_to_recording_s", time.monotonic() - cut)

    retry = time.monotonic()
    assert request(broker, mqtt, {"url": url, "version": version})["status"] == "ok"
    committed, _ = update_state(mqtt, "committed", version, INSTALL_TIMEOUT + GATE_TIMEOUT,
                                after=retry)
    record("retry_to_committed_s", committed - retry)
    _, doc = update_state(mqtt, "committed", version, 120, after=retry, running=version)
    assert (doc["running_version"], doc["booted_slot"]) == (version, OTHER[slot]), doc
    assert booted(vm) == OTHER[slot]


def test_kernel_that_never_boots_falls_back_by_the_attempt_counter(
        vm: QemuVM, broker: Broker, mqtt: Subscriber,
        bundle_server: tuple[BundleServer, Path]) -> None:
    """The slot's initrd is junk: the kernel cannot mount its root and panics (panic=10
    reboots); GRUB tries the slot 3 times, then starts the old one, whose gate reports."""
    version = "0.2.4"
    folder = bundle_server[1]
    images = folder / "no-boot-images"
    content = images / "boot"
    content.mkdir(parents=True)
    link_or_copy(IMAGES / "Image", content / "Image")
    (content / "initrd.img").write_bytes(os.urandom(64 * 1024))
    subprocess.run(["mke2fs", "-q", "-t", "ext2", "-m", "0", "-d", str(content),
                    str(images / "boot.ext2"), "64M"], check=True)
    link_or_copy(IMAGES / "rootfs.squashfs", images / "rootfs.squashfs")
    url = offer(bundle_server, make_bundle(images, folder / f"no-boot-{version}.raucb",
                                           version))
    slot = booted(vm)
    console_mark = len(vm.console)
    sent = time.monotonic()
    assert request(broker, mqtt, {"url": url, "version": version})["status"] == "ok"
    rebooting, _ = update_state(mqtt, "rebooting", version, INSTALL_TIMEOUT, after=sent)
    rolled, doc = update_state(mqtt, "rolled_back", version, GATE_TIMEOUT + 1200,
                               after=rebooting)
    record("kernel_fallback_rebooting_to_rolled_back_s", rolled - rebooting)
    assert doc["reason"] == f"slot {OTHER[slot]} did not reach user space", doc
    console = vm.console[console_mark:]
    for attempt in (1, 2, 3):
        assert f"nvr-edge: slot {OTHER[slot]}, attempt {attempt} of 3" in console
    assert console.count("Kernel panic") >= 3, console[-3000:]
    new_boot(vm, "")  # the channel again, after the reboots
    assert booted(vm) == slot
    env = grubenv(vm)
    assert env[f"{OTHER[slot]}_OK"] == "0" and env[f"{slot}_TRY"] == "0", env
