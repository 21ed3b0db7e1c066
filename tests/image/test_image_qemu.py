"""The appliance image (image/build qemu_aarch64_virt) boots under QEMU and records.

qemu-system-aarch64 -M virt -cpu cortex-a53 under TCG boots images/Image + initrd.img and a
private copy of disk.img whose data partition carries this test's nvr-edge.toml (the data
partition override). The host serves a simulated RTSP camera on 127.0.0.1, which the guest
reaches as 10.0.2.2 through QEMU's user-mode network. The test reads the guest through a
virtio-serial command channel and resets it through QEMU's monitor (tests/image/qemu.py).

Timings (boot to recording, the image's size) go to image/output/<board>/boot-test.json.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from nvr_edge_testing.simcam import SimCameraServer
from nvr_edge_testing.waiting import wait_for

from .guest import (
    SEGMENT_SECONDS,
    appliance_config,
    guest_cli,
    guest_segments,
    guest_status,
    iso_ms,
)
from .mqtt import TOPIC_BASE, Broker, Subscriber
from .qemu import HOST_FROM_GUEST, IMAGES, REPO, QemuVM, build_image, make_disk

GUEST_CACHE = "/var/lib/nvr-edge/cache"  # the image's nvr-edge.toml
USB_CAMERA = "usb1"  # vivid, once adopted
pytestmark = [pytest.mark.slow, pytest.mark.image, pytest.mark.timeout(3000)]

BOOT_TIMEOUT = 420  # TCG boot time varies 2x between runs and machines
AVAILABILITY = f"{TOPIC_BASE}/availability"
HOST_TOOLS = ("qemu-system-aarch64", "mmdebstrap", "genimage", "mksquashfs", "sfdisk", "mke2fs",
              "mosquitto", "mosquitto_sub")
MEASURED: dict[str, object] = {}
# A real V4L2 camera, for this test only: the test's own kernel command line loads vivid
# (systemd-modules-load) with its options (kmod reads them from /proc/cmdline, on a later
# modprobe too); nothing in the image loads it, so a real box shows no fake camera. One
# device with a video capture node (bit 0), a video output node (bit 8) and a metadata
# capture node (bit 17): discovery must offer the capture node only.
VIVID_ARGS = "modules-load=vivid vivid.n_devs=1 vivid.node_types=0x20101"


def part_start_ms(path: str) -> int:
    """The start second a segment's name holds: <camera>/<YYYY-MM-DD>/<HHMMSS>.mp4.part."""
    day, clock = path.rsplit("/", 2)[-2], path.rsplit("/", 1)[-1][:6]
    return int(datetime.strptime(f"{day} {clock}", "%Y-%m-%d %H%M%S")
               .replace(tzinfo=UTC).timestamp() * 1000)


def guest_now_ms(vm: QemuVM) -> int:
    return int(vm.run("date +%s%3N").output)


def main_pid(vm: QemuVM) -> int:
    return int(vm.run("systemctl show -p MainPID --value nvr-edge.service").output)


def service_state(vm: QemuVM) -> str:
    return vm.run("systemctl is-active nvr-edge.service", check=False).output.strip()


def record(key: str, value: object) -> None:
    MEASURED[key] = round(value, 1) if isinstance(value, float) else value
    (IMAGES.parent / "boot-test.json").write_text(json.dumps(MEASURED, indent=1) + "\n")


@pytest.fixture(scope="module")
def manifest() -> dict:
    missing = [tool for tool in HOST_TOOLS if shutil.which(tool) is None]
    if missing:
        pytest.fail(f"host tools missing: {', '.join(missing)}; install the Debian packages "
                    "listed in image/host-packages.txt (ci/image-test does)")
    started = time.monotonic()
    manifest = build_image()
    MEASURED.clear()
    record("build_or_reuse_s", time.monotonic() - started)
    record("build_stage_s", manifest["stage_seconds"])
    files = manifest["files"]
    record("disk_img_allocated_mb", files["disk.img"]["allocated_bytes"] / 2**20)
    record("rootfs_squashfs_mb", files["rootfs.squashfs"]["bytes"] / 2**20)
    record("kernel_plus_initrd_mb",
           (files["Image"]["bytes"] + files["initrd.img"]["bytes"]) / 2**20)
    return manifest


@pytest.fixture(scope="module")
def camera(clip_cache: Path, small_clip) -> Iterator[SimCameraServer]:
    with SimCameraServer(clip_cache, cameras=1, user="admin", password="img-Pw-7731",
                         main=small_clip, sub=small_clip,
                         log_path=clip_cache / "image-camera.log") as server:
        yield server


@pytest.fixture(scope="module")
def vm(manifest: dict, camera: SimCameraServer, broker: Broker, mqtt: Subscriber,
       tmp_path_factory: pytest.TempPathFactory) -> Iterator[QemuVM]:
    work = tmp_path_factory.mktemp("qemu")
    url = camera.url(1).replace("@127.0.0.1:", f"@{HOST_FROM_GUEST}:")
    disk = make_disk(work / "disk.img", {"nvr-edge.toml": appliance_config(url, broker.port)})
    cpu = os.environ.get("NVR_IMAGE_TEST_CPU", "cortex-a53")
    record("cpu", cpu)
    machine = QemuVM(work, disk, cpu=cpu, append=VIVID_ARGS).start()
    try:
        yield machine
    finally:
        machine.stop()
        shutil.copyfile(machine.console_log, IMAGES.parent / "boot-test-console.log")


def wait_recording(vm: QemuVM, since_ms: int, timeout: float) -> tuple[float, dict]:
    """Wait until cam1 is online and a segment that started after `since_ms` (guest clock)
    is closed; returns (seconds since QEMU started when cam1 was first seen online, segment)."""
    online_at: float | None = None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        cam = guest_status(vm).get("cameras", {}).get("cam1", {})
        if online_at is None and cam.get("state") == "online":
            online_at = time.monotonic() - vm.started
        last = cam.get("last_segment") or {}
        if last and iso_ms(last["start"]) >= since_ms:
            break
        time.sleep(2)
    else:
        raise AssertionError(f"no segment of cam1 closed within {timeout:.0f} s; status: "
                             f"{guest_status(vm)}\nservice log:\n"
                             + vm.run("journalctl -u nvr-edge -n 40 --no-pager",
                                      check=False).output)
    segments = [s for s in guest_segments(vm) if s["start_ms"] >= since_ms]
    assert segments, "status.json reported a segment the catalog does not list"
    return (online_at if online_at is not None else time.monotonic() - vm.started), segments[0]


def not_firmware() -> set[str]:
    """The distributions the image build leaves out (image/scripts/python-lib.sh)."""
    text = (REPO / "image/scripts/python-lib.sh").read_text()
    return set(re.search(r"^NOT_FIRMWARE_PLUGINS=\((.*)\)$", text, re.M).group(1).split())


def test_image_carries_the_checkout_and_every_firmware_plugin(manifest: dict) -> None:
    names = {d.rsplit("-", 1)[0].lower().replace("_", "-")
             for d in manifest["python_distributions"]}
    tools = not_firmware()
    assert "nvr-edge-testing" in tools
    plugins = {p.parent.name for p in REPO.glob("plugins/*/pyproject.toml")}
    expected = {"nvr-edge"} | (plugins - tools)
    assert expected <= names, f"missing from the image: {expected - names}"
    assert not tools & names, f"test tools in the firmware: {tools & names}"
    assert any(name.startswith("python3.11") for name in manifest["debian_packages"])
    assert all(w["sha256"] and w["version"] for w in manifest["wheels"])


def test_boots_read_only_with_no_failed_units(vm: QemuVM) -> None:
    record("boot_to_channel_s", vm.wait_channel(BOOT_TIMEOUT))
    state = vm.run("systemctl is-system-running --wait", timeout=BOOT_TIMEOUT, check=False)
    record("boot_to_systemd_running_s", time.monotonic() - vm.started)
    failed = vm.run("systemctl --failed --plain --no-legend", check=False).output.strip()
    assert failed == "", f"failed units:\n{failed}"
    assert state.output.strip() == "running", state.output
    root = vm.run("findmnt -n -o FSTYPE,OPTIONS /").output.split()
    assert root[0] == "squashfs" and "ro" in root[1].split(","), root
    data = vm.run("findmnt -n -o SOURCE,FSTYPE,OPTIONS /var/lib/nvr-edge").output.split()
    assert data[1] == "ext4" and "rw" in data[2].split(","), data
    assert vm.run("touch /usr/x", check=False).rc != 0, "the root is writable"
    # the data partition had only the config: the first boot made the appliance's folders
    owners = vm.run("stat -c '%n %U' /var/lib/nvr-edge/cache /var/lib/nvr-edge/archive "
                    "/var/lib/nvr-edge/state").output.splitlines()
    assert all(line.endswith(" nvr-edge") for line in owners), owners
    assert vm.run("nvr-edge-config").output == "/var/lib/nvr-edge/nvr-edge.toml"


def test_service_runs_unprivileged_with_no_capabilities(vm: QemuVM) -> None:
    vm.wait_channel(BOOT_TIMEOUT)
    wait_for(lambda: service_state(vm) == "active", BOOT_TIMEOUT, "nvr-edge active", interval=2)
    pid = main_pid(vm)
    assert vm.run(f"ps -o user= -p {pid}").output.strip() == "nvr-edge"
    status = dict(line.split(":", 1) for line in
                  vm.run(f"cat /proc/{pid}/status").output.splitlines() if ":" in line)
    for cap in ("CapEff", "CapPrm", "CapBnd", "CapAmb"):
        assert int(status[cap].strip(), 16) == 0, f"{cap} = {status[cap].strip()}"
    assert status["NoNewPrivs"].strip() == "1"
    unit = vm.run("systemctl show nvr-edge.service -p Restart -p WatchdogUSec").output
    assert "Restart=always" in unit and "WatchdogUSec=1min" in unit, unit
    # of the devices, only the pseudo ones and V4L2 nodes (USB cameras) may be opened
    devices = dict(line.split("=", 1) for line in vm.run(
        "systemctl show nvr-edge.service -p DevicePolicy -p DeviceAllow").output.splitlines())
    assert devices == {"DevicePolicy": "closed", "DeviceAllow": "char-video4linux rw"}, devices
    cmdline = vm.run(f"tr '\\0' ' ' < /proc/{pid}/cmdline").output
    assert "nvr-edge run --config /var/lib/nvr-edge/nvr-edge.toml" in cmdline, cmdline


def test_availability_online_reaches_the_host_broker(vm: QemuVM, mqtt: Subscriber,
                                                     manifest: dict) -> None:
    online = mqtt.wait_for(AVAILABILITY, "online", timeout=BOOT_TIMEOUT, after=vm.started)
    record("boot_to_mqtt_online_s", online.at - vm.started)
    # `info` goes out before `online`: what the box says it runs is what the image holds
    info = json.loads(mqtt.wait_for(f"{TOPIC_BASE}/info", None, timeout=10).payload)
    core = next(d for d in manifest["python_distributions"] if d.startswith("nvr_edge-"))
    assert info["firmware"]["version"] == core.split("-", 1)[1], info
    assert info["hardware"]["machine"] == "aarch64", info
    assert "mqtt" in {p["name"] for p in info["plugins"]}, info


def test_records_the_host_camera(vm: QemuVM, mqtt: Subscriber) -> None:
    vm.wait_channel(BOOT_TIMEOUT)
    online_s, segment = wait_recording(vm, since_ms=0, timeout=BOOT_TIMEOUT)
    record("boot_to_camera_online_s", online_s)
    record("boot_to_first_closed_segment_s", time.monotonic() - vm.started)
    assert segment["video_codec"] == "h264" and (segment["width"], segment["height"]) == (640, 360)
    assert SEGMENT_SECONDS - 1 <= segment["duration_ms"] / 1000 <= SEGMENT_SECONDS + 3, segment
    assert segment["bytes"] > 50_000, segment
    size = vm.run(f"stat -c %s {segment['path']}", check=False)
    if size.rc != 0:  # moved to the archive meanwhile: the catalog says where
        moved = [s for s in guest_segments(vm) if s["start_ms"] == segment["start_ms"]]
        size = vm.run(f"stat -c %s {moved[0]['path']}")
    assert int(size.output) == segment["bytes"]
    # the same segment, announced to the host's broker
    event = mqtt.wait_for(f"{TOPIC_BASE}/event", None, timeout=60, contains=segment["start"])
    closed = json.loads(event.payload)
    assert closed["type"] == "segment_closed" and closed["camera"] == "cam1", closed
    assert closed["segment"]["start"] == segment["start"], closed
    assert closed["segment"]["bytes"] == segment["bytes"], (closed, segment)


def vivid_nodes(vm: QemuVM) -> dict[str, str]:
    """vivid's video4linux nodes in the guest: sysfs name (vivid-000-vid-cap) -> /dev path."""
    out = vm.run("grep -H . /sys/class/video4linux/video*/name", check=False).output
    nodes = {}
    for line in out.splitlines():
        path, _, name = line.partition(":")
        if name.startswith("vivid-"):
            nodes[name] = "/dev/" + path.split("/")[4]
    return nodes


def v4l2_status(vm: QemuVM) -> list[dict] | None:
    """The appliance's status part `v4l2` (status.json `plugins.v4l2.devices`)."""
    part = guest_status(vm).get("plugins", {}).get("v4l2")
    return None if part is None else part["devices"]


def test_vivid_nodes_made_by_udev(vm: QemuVM) -> None:
    """The generic kernel's vivid, loaded from the test's kernel command line: udev makes
    the device files (group video, which the appliance's user is in) and v4l_id's
    capabilities, which is what the plugin reads before opening a node."""
    vm.wait_channel(BOOT_TIMEOUT)
    nodes = wait_for(lambda: len(vivid_nodes(vm)) == 3 and vivid_nodes(vm), 120,
                     "vivid's capture, output and metadata nodes")
    assert set(nodes) == {"vivid-000-vid-cap", "vivid-000-vid-out", "vivid-000-meta-cap"}
    vm.run("udevadm settle", timeout=120)
    caps = {}
    for name, dev in nodes.items():
        assert vm.run(f"stat -c %G:%a {dev}").output == "video:660", dev
        props = dict(line.split("=", 1) for line in
                     vm.run(f"udevadm info -q property -n {dev}").output.splitlines())
        caps[name] = props.get("ID_V4L_CAPABILITIES", "")
        assert props.get("ID_PATH") == "platform-vivid.0", props
    assert ":capture:" in caps["vivid-000-vid-cap"], caps
    assert ":capture:" not in caps["vivid-000-vid-out"] + caps["vivid-000-meta-cap"], caps
    # vivid hangs off a platform device: udev makes by-path links, and by-id ones (which
    # need a USB serial, ID_SERIAL) not at all
    by_path = vm.run("ls /dev/v4l/by-path").output.split()
    assert "platform-vivid.0-video-index0" in by_path, by_path
    assert vm.run("ls /dev/v4l/by-id", check=False).rc != 0
    assert "video" in vm.run("id -Gn nvr-edge").output.split()


def test_discover_offers_the_vivid_capture_node_only(vm: QemuVM) -> None:
    vm.wait_channel(BOOT_TIMEOUT)
    nodes = wait_for(lambda: len(vivid_nodes(vm)) == 3 and vivid_nodes(vm), 120, "vivid")
    started = time.monotonic()
    # as the appliance's user (group video), like the CLI an operator runs; discover reads
    # no config file
    found = json.loads(vm.run("runuser -u nvr-edge -- nvr-edge discover --json --timeout 1 "
                              "2>/dev/null", timeout=300).output)
    record("discover_in_guest_s", time.monotonic() - started)
    v4l2 = [c for c in found if c["kind"] == "v4l2"]
    capture = nodes["vivid-000-vid-cap"]
    # one candidate: the output and metadata nodes are not offered
    assert len(v4l2) == 1, v4l2
    cam = v4l2[0]
    # no by-id link: the id falls back to udev's ID_PATH with the node's index
    assert cam["id"] == "v4l2:platform-vivid.0-video-index0", cam
    # the address (and every stream URL) is the by-path link: /dev/videoN is not the
    # same device across a rebind
    link = "/dev/v4l/by-path/platform-vivid.0-video-index0"
    assert cam["address"] == link, cam
    assert vm.run(f"readlink -f {link}").output == capture
    assert cam["name"] == "vivid", cam  # udev's ID_V4L_PRODUCT
    streams = cam["streams"]
    # vivid offers ~80 formats of 42 modes each: the plugin's cap keeps the first 512
    assert len(streams) == 512 and "more than 512 modes" in cam["problem"], cam["problem"]
    codecs = {s["codec"] for s in streams}
    assert {"yuyv", "uyvy", "nv12"} <= codecs, codecs
    yuyv = [(s["width"], s["height"], s["fps"]) for s in streams if s["codec"] == "yuyv"]
    # vivid's webcam input: discrete sizes, each with its discrete rates, the smaller
    # sizes with more (faster) ones
    sizes = sorted({(w, h) for w, h, _ in yuyv}, key=lambda wh: wh[0] * wh[1])
    assert {(640, 480), (1280, 720), (1920, 1080)} <= set(sizes), sizes
    rates = {size: sorted(f for w, h, f in yuyv if (w, h) == size) for size in sizes}
    assert all(rates.values()) and None not in {f for r in rates.values() for f in r}, rates
    assert max(rates[sizes[0]]) > max(rates[sizes[-1]]), rates
    assert all(s["url"].startswith(f"v4l2:{link}?fourcc=") for s in streams), streams[:3]
    main = [s for s in streams if s["role"] == "main"]
    assert len(main) == 1 and main[0] == streams[0], main
    # no H.264 or MJPEG: recording it goes through an encoder
    assert "needs an encoder" in cam["problem"], cam


def test_status_part_follows_vivid_removed_and_added(vm: QemuVM) -> None:
    """The running appliance's pyudev watcher: the device at start, then `modprobe -r`
    (remove events) and `modprobe` again (add events, the same options from the kernel
    command line)."""
    vm.wait_channel(BOOT_TIMEOUT)
    wait_for(lambda: service_state(vm) == "active", BOOT_TIMEOUT, "nvr-edge active", interval=2)
    devices = wait_for(lambda: v4l2_status(vm), 120, "status part v4l2 with a device",
                       interval=2)
    capture = vivid_nodes(vm)["vivid-000-vid-cap"]
    assert [d["node"] for d in devices] == [capture], devices
    assert devices[0]["id"] == "platform-vivid.0-video-index0", devices
    # opened and probed by the unprivileged service (before its device policy, it could not)
    assert devices[0]["modes"] == 512, devices
    assert devices[0]["name"] == "vivid", devices

    removed = time.monotonic()
    vm.run("modprobe -r vivid", timeout=120)
    wait_for(lambda: v4l2_status(vm) == [], 120, "the device gone from the status", interval=1)
    record("v4l2_remove_to_status_s", time.monotonic() - removed)
    added = time.monotonic()
    vm.run("modprobe vivid", timeout=120)
    back = wait_for(lambda: v4l2_status(vm), 120, "the device back in the status", interval=1)
    record("v4l2_add_to_status_s", time.monotonic() - added)
    assert [d["id"] for d in back] == ["platform-vivid.0-video-index0"], back
    assert back[0]["modes"] == devices[0]["modes"], back


def test_kill_9_last_will_restart_online_again_recording_resumes(
        vm: QemuVM, mqtt: Subscriber) -> None:
    vm.wait_channel(BOOT_TIMEOUT)
    wait_for(lambda: service_state(vm) == "active", BOOT_TIMEOUT, "nvr-edge active", interval=2)
    pid = main_pid(vm)
    restarts = int(vm.run("systemctl show -p NRestarts --value nvr-edge.service").output)
    killed_ms = guest_now_ms(vm)
    killed = time.monotonic()
    vm.run(f"kill -9 {pid}")
    offline = mqtt.wait_for(AVAILABILITY, "offline", timeout=120, after=killed)
    record("kill9_to_mqtt_offline_s", offline.at - killed)
    wait_for(lambda: service_state(vm) == "active" and main_pid(vm) not in (0, pid), 300,
             "nvr-edge restarted by systemd", interval=2)
    record("kill9_to_active_again_s", time.monotonic() - killed)
    assert int(vm.run("systemctl show -p NRestarts --value nvr-edge.service").output) \
        == restarts + 1
    online = mqtt.wait_for(AVAILABILITY, "online", timeout=300, after=offline.at)
    record("kill9_to_mqtt_online_again_s", online.at - killed)
    _, segment = wait_recording(vm, since_ms=killed_ms, timeout=300)
    record("kill9_to_next_closed_segment_s", time.monotonic() - killed)
    assert segment["duration_ms"] > 0


def test_hard_reset_mid_segment_keeps_closed_segments(vm: QemuVM, mqtt: Subscriber) -> None:
    vm.wait_channel(BOOT_TIMEOUT)
    wait_for(lambda: len(guest_segments(vm)) >= 2, 300, "two closed segments", interval=2)
    before = sorted(guest_segments(vm), key=lambda s: s["start_ms"])
    sums = dict(line.split()[::-1] for line in vm.run(
        "sha256sum " + " ".join(s["path"] for s in before)).output.splitlines())

    def cut_point() -> tuple[str, int] | None:
        """The segment being written, once it is newer than the snapshot and has 3-7 s of
        video: a cut in the middle of a segment. Judged from the guest's own files (the
        `.part` and its name, which holds its start second) and clock in one command: the
        status file is refreshed only every 2 s, and under load it named a segment that
        had already closed."""
        reply = vm.run(f"ls -1 {GUEST_CACHE}/cam1/*/*.mp4.part 2>/dev/null | tail -n 1; "
                       "date +%s%3N", check=False).output.split()
        if len(reply) != 2:
            return None
        part, now_ms = reply[0], int(reply[1])
        started_ms = part_start_ms(part)
        if started_ms <= before[-1]["start_ms"]:
            return None
        return (part, now_ms) if 3000 <= now_ms - started_ms <= 7000 else None

    part, seen_ms = wait_for(cut_point, 120, "the middle of a segment", interval=0.5)
    boot_id = vm.run("cat /proc/sys/kernel/random/boot_id").output
    cut_ms = guest_now_ms(vm)
    vm.hard_reset()
    reset = time.monotonic()
    vm.wait_channel(BOOT_TIMEOUT)
    assert vm.run("cat /proc/sys/kernel/random/boot_id").output != boot_id, "no reboot"
    _, first_after = wait_recording(vm, since_ms=cut_ms, timeout=BOOT_TIMEOUT)
    record("reset_to_next_closed_segment_s", time.monotonic() - reset)
    mqtt.wait_for(AVAILABILITY, "online", timeout=120, after=reset)

    after = {s["start_ms"]: s for s in guest_segments(vm)}
    for seg in before:  # every segment closed before the cut: still indexed, same bytes
        now = after.get(seg["start_ms"])
        assert now is not None, f"segment {seg['start']} lost from the catalog"
        assert now["bytes"] == seg["bytes"], (seg, now)
        digest = vm.run(f"sha256sum {now['path']}").output.split()[0]
        assert digest == sums[seg["path"]], f"{now['path']} changed across the reset"
    # the segment open at the cut: repaired at start-up under its own name (or moved to
    # the archive since), indexed, and ending near the cut
    name = part.removesuffix(".part").rsplit("/", 3)[-3:]
    cut_segment = next((s for s in after.values()
                        if s["path"].rsplit("/", 3)[-3:] == name), None)
    assert cut_segment is not None, f"the segment cut by the reset ({part}) was not recovered"
    assert 1000 <= cut_segment["duration_ms"] <= cut_ms + 3000 - part_start_ms(part), \
        (cut_segment, seen_ms, cut_ms)
    assert first_after["start_ms"] >= cut_ms
    # `check` while the appliance runs: the open .part is in progress, and a cache copy the
    # mover keeps for move_grace_s after the move shows up as a duplicate of its indexed
    # archive twin (docs/STORAGE.md); anything else is a real difference
    report = json.loads(vm.run(guest_cli("check --json 2>/dev/null"), timeout=180,
                               check=False).output)
    archived = {s["path"] for s in guest_segments(vm) if s["tier"] == "archive"}

    def grace_copy(path: str) -> bool:
        return path.replace("/cache/", "/archive/", 1) in archived

    real = [f for f in report["findings"] if f["kind"] != "in-progress"
            and not (f["kind"] in ("duplicate", "unindexed-file") and grace_copy(f["path"]))]
    assert real == [], real


def usb_status(vm: QemuVM) -> dict:
    return guest_status(vm).get("cameras", {}).get(USB_CAMERA, {})


def smallest_mode(streams: list[dict]) -> str:
    """vivid's smallest YUYV size at its slowest rate of at least 5 fps: the guest encodes
    it with libx264 under TCG, where 1080p (the proposed main) would not keep up."""
    yuyv = [s for s in streams if s["codec"] == "yuyv" and s["fps"]]
    size = min({(s["width"], s["height"]) for s in yuyv}, key=lambda wh: wh[0] * wh[1])
    rates = sorted(s["fps"] for s in yuyv if (s["width"], s["height"]) == size)
    fps = next((f for f in rates if f >= 5), rates[-1])
    return next(s["name"] for s in yuyv if (s["width"], s["height"]) == size and s["fps"] == fps)


def ffprobe_video(path: Path) -> dict:
    """The first video stream as the host's ffprobe reads it, every frame decoded."""
    out = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
                          "-show_entries", "stream=codec_name,width,height,nb_read_frames",
                          "-of", "json", str(path)],
                         check=True, capture_output=True, text=True, timeout=120).stdout
    return json.loads(out)["streams"][0]


def fetch_video(vm: QemuVM, segment: dict, dest: Path) -> dict:
    """A segment of the guest, fetched over the channel (same size as the catalog says) and
    read by the host's ffprobe, every frame decoded."""
    dest.write_bytes(base64.b64decode(vm.run(f"base64 -w0 {segment['path']}",
                                             timeout=300).output))
    assert dest.stat().st_size == segment["bytes"]
    return ffprobe_video(dest)


def usb_segments(vm: QemuVM) -> list[dict]:
    return sorted(json.loads(vm.run(guest_cli(f"segments --camera {USB_CAMERA} --json"),
                                    timeout=180).output), key=lambda s: s["start_ms"])


def usb_closed_since(vm: QemuVM, since_ms: int) -> dict | None:
    """usb1's last closed segment in the status, if it started at or after `since_ms`."""
    last = usb_status(vm).get("last_segment") or {}
    return last if last and iso_ms(last["start"]) >= since_ms else None


def wait_usb_segment(vm: QemuVM, since_ms: int, what: str) -> dict:
    """A closed segment of usb1 that started at or after `since_ms` (guest clock); the
    failure says why: the camera's state, the encoders' probes, the service's log."""
    try:
        return wait_for(lambda: usb_closed_since(vm, since_ms), 420, what, interval=3)
    except AssertionError as exc:
        status = guest_status(vm)
        raise AssertionError(
            f"{exc}\n{USB_CAMERA}: {status.get('cameras', {}).get(USB_CAMERA)}\nencoders: "
            f"{status.get('plugins', {}).get('encoders')}\nservice log:\n" + vm.run(
                "journalctl -u nvr-edge -n 60 --no-pager", check=False).output) from None


@pytest.fixture(scope="module")
def adopted_vivid(vm: QemuVM, broker: Broker, mqtt: Subscriber) -> dict:
    """vivid's candidate, as `discover` offers it, adopted over MQTT (adopt_usb_camera) as
    usb1 in its smallest YUYV mode: {candidate, mode, answer, asked (monotonic), asked_ms
    (guest clock)}. Shared by the tests that record it (either may run alone)."""
    vm.wait_channel(BOOT_TIMEOUT)
    wait_for(lambda: service_state(vm) == "active", BOOT_TIMEOUT, "nvr-edge active", interval=2)
    wait_for(lambda: v4l2_status(vm), 120, "vivid in the status part", interval=2)
    found = json.loads(vm.run("runuser -u nvr-edge -- nvr-edge discover --json --timeout 1 "
                              "2>/dev/null", timeout=300).output)
    cam = next(c for c in found if c["kind"] == "v4l2")
    mode = smallest_mode(cam["streams"])
    record("vivid_mode", mode)
    asked_ms, asked = guest_now_ms(vm), time.monotonic()
    request = json.dumps({"id": cam["id"], "camera": USB_CAMERA, "mode": mode,
                          "transaction": "adopt-vivid"})
    subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker.port), "-q", "1",
                    "-t", f"{TOPIC_BASE}/request/adopt_usb_camera", "-m", request],
                   check=True, timeout=30)
    answer = json.loads(mqtt.wait_for(f"{TOPIC_BASE}/response/adopt_usb_camera", None,
                                      timeout=180, after=asked, contains="adopt-vivid").payload)
    return {"candidate": cam, "mode": mode, "answer": answer, "asked": asked,
            "asked_ms": asked_ms}


def test_adopted_vivid_records_through_the_guest_s_encoder(
        vm: QemuVM, adopted_vivid: dict, tmp_path: Path) -> None:
    """Near the end of the file: the whole USB path on the image. The candidate discover
    offers is adopted over MQTT (adopt_usb_camera), its raw frames go through the guest's
    encoder to a closed H.264 segment, listed and playable."""
    answer, cam, mode = adopted_vivid["answer"], adopted_vivid["candidate"], adopted_vivid["mode"]
    assert answer["status"] == "ok", answer
    assert answer["data"]["camera"] == USB_CAMERA and "fourcc=YUYV" in answer["data"]["main"], \
        answer
    # no by-id link (a platform device): the URL names the by-path link, which follows the
    # device to whatever /dev/videoN it has after a rebind
    assert answer["data"]["main"].startswith(
        "v4l2:/dev/v4l/by-path/platform-vivid.0-video-index0?"), answer
    wait_usb_segment(vm, adopted_vivid["asked_ms"], f"a closed segment of {USB_CAMERA}")
    record("vivid_adopt_to_closed_segment_s", time.monotonic() - adopted_vivid["asked"])
    x264 = next(p for p in guest_status(vm)["plugins"]["encoders"]["probes"]
                if p["name"] == "libx264")
    record("libx264_probe_startup_s", x264["startup_s"])
    record("libx264_probe_encode_s", round(x264["seconds"] - x264["startup_s"], 1))
    segments = usb_segments(vm)
    assert segments and segments[0]["duration_ms"] > 0 and segments[0]["bytes"] > 0, segments
    # playable; recorded through an encoder, so H.264 at the adopted mode's size whatever
    # the device sent
    video = fetch_video(vm, segments[0], tmp_path / "usb1.mp4")
    assert video["codec_name"] == "h264", video
    size = next(s for s in cam["streams"] if s["name"] == mode)
    assert (video["width"], video["height"]) == (size["width"], size["height"]), (video, size)
    assert int(video["nb_read_frames"]) > 0, video


def usb_part(vm: QemuVM) -> tuple[str, int] | None:
    """usb1's segment being written and the guest's clock, once it has 3 s of video: an
    unplug in the middle of a segment (judged from the guest's files, as cut_point is)."""
    reply = vm.run(f"ls -1 {GUEST_CACHE}/{USB_CAMERA}/*/*.mp4.part 2>/dev/null | tail -n 1; "
                   "date +%s%3N", check=False).output.split()
    if len(reply) != 2:
        return None
    part, now_ms = reply[0], int(reply[1])
    return (part, now_ms) if now_ms - part_start_ms(part) >= 3000 else None


def usb_closed_events(mqtt: Subscriber, before: float = float("inf")) -> list[dict]:
    """usb1's segment_closed events that reached the host's broker before `before`."""
    return [e["segment"] for e in (json.loads(m.payload) for m in list(mqtt.messages)
                                   if m.topic == f"{TOPIC_BASE}/event" and m.at < before)
            if e.get("type") == "segment_closed" and e.get("camera") == USB_CAMERA]


def test_adopted_vivid_goes_offline_unplugged_and_records_again(
        vm: QemuVM, adopted_vivid: dict, mqtt: Subscriber, tmp_path: Path) -> None:
    """The adopted camera unplugged mid-segment and plugged back. `modprobe -r vivid` is
    refused while the worker holds the device ("Module vivid is in use"), so the unplug is
    vivid's platform device unbound from its driver, which is what the kernel does when a
    USB camera goes: the nodes go, and an open one answers ENODEV. A process of the test
    keeps the old capture node open across the unplug, so its number is still taken when
    the device comes back (as when a reader lags behind a real replug): the camera is
    followed by its by-path link, not by /dev/videoN. The box's own catalog is read once,
    at the end (each `nvr-edge segments` is a Python start-up under TCG)."""
    wait_usb_segment(vm, adopted_vivid["asked_ms"], f"{USB_CAMERA} recording")
    started = time.monotonic()
    old_node = vivid_nodes(vm)["vivid-000-vid-cap"]
    part, _ = wait_for(lambda: usb_part(vm), 120, f"3 s into a segment of {USB_CAMERA}",
                       interval=0.5)
    holder = vm.run(f"sleep 900 < {old_node} > /dev/null 2>&1 3>&- & echo $!").output.strip()
    unplug_ms, unplugged = guest_now_ms(vm), time.monotonic()
    try:
        vm.run("echo vivid.0 > /sys/bus/platform/drivers/vivid/unbind", timeout=120)
        state = wait_for(lambda: usb_status(vm).get("state") == "offline" and usb_status(vm),
                         120, f"{USB_CAMERA} offline", interval=1)
        record("vivid_unplug_to_offline_s", time.monotonic() - unplugged)
        assert "unplugged" in state["reason"], state
        # what a fleet operator sees: the retained state and reason, and the alert
        mqtt.wait_for(f"{TOPIC_BASE}/camera/{USB_CAMERA}/state", "offline", timeout=60,
                      after=unplugged)
        mqtt.wait_for(f"{TOPIC_BASE}/camera/{USB_CAMERA}/reason", None, timeout=60,
                      after=unplugged, contains="unplugged")
        alert = json.loads(mqtt.wait_for(f"{TOPIC_BASE}/event", None, timeout=60,
                                         after=unplugged, contains="camera_unplugged").payload)
        assert alert["code"] == "camera_unplugged" and USB_CAMERA in alert["message"], alert
        # the segment cut by the unplug is closed (no .part left) and announced
        assert vm.run(f"ls {GUEST_CACHE}/{USB_CAMERA}/*/*.part", check=False).rc != 0
        second = datetime.fromtimestamp(part_start_ms(part) / 1000, UTC).strftime(
            "%Y-%m-%dT%H:%M:%S")  # the name holds the start's second
        cut = wait_for(lambda: next((e for e in usb_closed_events(mqtt)
                                     if e["start"].startswith(second)), None),
                       60, f"segment_closed of the cut segment {part}")
        # no restart storm: one worker waits for the device, offline, all along
        pid, restarts = state["pid"], state["restarts"]
        time.sleep(5)
        assert (usb_status(vm)["state"], usb_status(vm)["pid"]) == ("offline", pid)
        assert usb_status(vm)["restarts"] == restarts, usb_status(vm)

        replug_ms, replugged = guest_now_ms(vm), time.monotonic()
        vm.run("echo vivid.0 > /sys/bus/platform/drivers/vivid/bind", timeout=120)
        new_node = wait_for(lambda: vivid_nodes(vm).get("vivid-000-vid-cap"), 60,
                            "vivid's capture node back")
        assert new_node != old_node, (old_node, new_node)  # the old number is still held
        wait_for(lambda: usb_status(vm).get("state") == "online", 120,
                 f"{USB_CAMERA} online after the replug", interval=1)
        record("vivid_replug_to_online_s", time.monotonic() - replugged)
        new = wait_usb_segment(vm, replug_ms,
                               f"a closed segment of {USB_CAMERA} after the replug")
        record("vivid_replug_to_closed_segment_s", time.monotonic() - replugged)
        assert usb_status(vm)["pid"] == pid, usb_status(vm)  # woken, not restarted
    finally:
        vm.run(f"kill {holder}", check=False)
        (IMAGES.parent / "vivid-unplug-journal.txt").write_text(vm.run(
            "journalctl -u nvr-edge -n 80 --no-pager -o short-monotonic", check=False).output)
    mqtt.wait_for(f"{TOPIC_BASE}/camera/{USB_CAMERA}/state", "online", timeout=60,
                  after=replugged)
    # the same camera, its config untouched, watched on its new node
    assert [d["node"] for d in v4l2_status(vm)] == [new_node], v4l2_status(vm)
    config = vm.run("cat /var/lib/nvr-edge/nvr-edge.toml").output
    assert config.count("platform-vivid.0-video-index0") == 1 and "/dev/video" not in config
    # kept: every segment announced before the unplug, the cut one with the seconds it had,
    # and the new one, listed by the catalog; the new one plays
    listed = {s["start"]: s for s in usb_segments(vm)}
    announced = usb_closed_events(mqtt, before=unplugged)
    assert announced and all(s["start"] in listed for s in announced), (announced, listed)
    cut_row = listed[cut["start"]]
    assert cut_row["duration_ms"] >= 1000 and cut_row["start_ms"] < unplug_ms, cut_row
    new_row = next(s for s in listed.values() if s["start_ms"] >= replug_ms)
    assert new_row["start"] == new["start"], (new_row, new)
    video = fetch_video(vm, new_row, tmp_path / "replugged.mp4")
    assert video["codec_name"] == "h264" and int(video["nb_read_frames"]) > 0, video
    record("vivid_unplug_test_s", time.monotonic() - started)
