"""What the image tests read from the guest and write into it: the appliance's config for
the booted image, the `nvr-edge` CLI as the appliance's user, its status file and its
segments (shared by the boot, vivid and A/B update tests)."""

from __future__ import annotations

import json
from datetime import datetime

from .mqtt import DEVICE_ID
from .qemu import HOST_FROM_GUEST, QemuVM

SEGMENT_SECONDS = 10


def guest_cli(args: str) -> str:
    """An `nvr-edge` command in the guest, as the appliance's user, with its configuration."""
    return f'runuser -u nvr-edge -- nvr-edge {args} --config "$(nvr-edge-config)"'


def guest_segments(vm: QemuVM) -> list[dict]:
    return json.loads(vm.run(guest_cli("segments --camera cam1 --json"), timeout=180).output)


def guest_status(vm: QemuVM) -> dict:
    """The supervisor's own status file (cheap: no Python start-up under emulation)."""
    reply = vm.run("cat /var/lib/nvr-edge/state/status.json", check=False)
    if reply.rc != 0:
        return {}
    try:
        return json.loads(reply.output)
    except json.JSONDecodeError:  # read between write and rename cannot happen; be safe
        return {}


def iso_ms(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


def appliance_config(camera_url: str, broker_port: int) -> str:
    return "\n".join([
        "[device]", f'id = "{DEVICE_ID}"',
        "[storage]", f"segment_seconds = {SEGMENT_SECONDS}",
        "[recording]", "connect_timeout_s = 15",
        # the probe's picture at the size the test records (vivid 320x180), not 720p: under
        # TCG at host load ~11, 720p took over 20 s to encode after a 40 s start-up (a board
        # does it in about a second), so libx264 failed its probe and usb1 had no encoder;
        # 320x240 then took 18.3 s (after a 73.3 s start-up) of the 20 s encode bound while
        # the box was starting: 60 s leaves TCG room (the start-up has its own bound)
        "[encoders]", "probe_width = 320", "probe_height = 240", "probe_timeout_s = 60",
        "[mqtt]", f'url = "mqtt://{HOST_FROM_GUEST}:{broker_port}"', 'topic_prefix = "nvr"',
        "[[cameras]]", 'id = "cam1"', f'main = "{camera_url}"',
    ]) + "\n"
