"""`nvr-edge bench record`: nvr-edge against the ffmpeg CLI, same simulated cameras.

Both recorders take the same N streams from one simulated camera server, one after the
other. Each is measured over the same kind of window: it opens when every camera is being
written to disk (nvr-edge: every worker reports ONLINE; ffmpeg: every output file grows)
and lasts S seconds of wall time, so clip encoding, server start-up, RTSP connection and
the final file close are all outside it. CPU is user+sys from /proc (all threads),
memory is PSS from /proc/PID/smaps_rollup sampled shortly before the window closes.

One JSON object goes to stdout; progress goes to stderr.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pluggy
from nvr_edge_testing.configs import appliance_document, write_toml

from nvr_edge import procfs
from nvr_edge.config import Config
from nvr_edge.models import CameraState
from nvr_edge.plugins import load_config
from nvr_edge.procfs import child_pids, memory_mib, parent_pid

log = logging.getLogger(__name__)

SEGMENT_SECONDS = 180  # the ffmpeg anchor's -segment_time; nvr-edge gets the same
ONLINE_TIMEOUT_S = 60.0
MEMORY_LEAD_S = 5.0  # memory is sampled this long before the window closes
FFMPEG_STARTED_BYTES = 64 * 1024  # an output this big means ffmpeg is writing packets
TARGETS = {"ratio_max": 1.0, "pss_mib_per_worker_max": 20.0, "packets_lost": 0}


# -- /proc (nvr_edge.procfs: the appliance's own reader) -----------------------------------


def cpu_seconds(pid: int) -> float:
    """user + sys of every thread of `pid` so far (0 when it is gone)."""
    return procfs.cpu_seconds(pid) or 0.0


@dataclass
class CpuMeter:
    """CPU seconds and wake-ups (procfs.wakeups) of a set of processes between start() and
    stop()."""

    pids: list[int]
    start_s: dict[int, float] | None = None
    used_s: dict[int, float] | None = None
    start_wakeups: dict[int, int] | None = None
    wakeups: dict[int, int] | None = None

    def start(self) -> None:
        self.start_s = {pid: cpu_seconds(pid) for pid in self.pids}
        self.start_wakeups = {pid: procfs.wakeups(pid) or 0 for pid in self.pids}

    def stop(self) -> None:
        assert self.start_s is not None and self.start_wakeups is not None
        self.used_s = {pid: cpu_seconds(pid) - s for pid, s in self.start_s.items()}
        self.wakeups = {pid: (procfs.wakeups(pid) or 0) - n
                        for pid, n in self.start_wakeups.items()}

    @property
    def total(self) -> float:
        assert self.used_s is not None
        return sum(self.used_s.values())


def sample_memory(pids: Iterable[int]) -> list[dict[str, Any]]:
    return [{"pid": pid, **memory_mib(pid)} for pid in pids]


def memory_stats(samples: list[dict[str, Any]]) -> dict[str, Any]:
    stats: dict[str, Any] = {"per_process": samples}
    for key in ("pss_mib", "rss_mib"):
        values = [s[key] for s in samples if key in s]
        if values:
            stats[key] = {"mean": round(statistics.fmean(values), 2), "max": max(values),
                          "min": min(values)}
    return stats


def machine_info() -> dict[str, Any]:
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    import av

    ffmpeg = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True,
                            check=False).stdout.split("\n", 1)[0]
    info = {"cores": os.cpu_count(), "cpu_model": model, "kernel": platform.release(),
            "python": platform.python_version(), "pyav": av.__version__,
            "pyav_libavformat": ".".join(map(str, av.library_versions["libavformat"])),
            "ffmpeg_cli": ffmpeg}
    try:  # the FFmpeg the native engine links (the system's)
        from nvr_edge.camera import _remux  # type: ignore[attr-defined]

        native = _remux.versions()
        info["native_ffmpeg"] = native["ffmpeg"]
        info["native_libavformat"] = ".".join(map(str, native["libavformat"]))
    except ImportError:
        info["native_ffmpeg"] = None
    return info


# -- measuring one recorder ----------------------------------------------------------------

@dataclass
class Window:
    """What both recorders are measured over."""

    seconds: float
    cameras: int
    server_pid: int

    def run(self, pids: list[int], tick: Callable[[float], None]) -> dict[str, Any]:
        """Measure `pids` (and this process, and the camera server) for `seconds`, calling
        `tick(timeout)` to keep the recorder's own loop going in the meantime."""
        meter, server = CpuMeter(pids), CpuMeter([self.server_pid])
        memory: list[dict[str, Any]] | None = None
        self_start, self_wakeups = time.process_time(), procfs.wakeups("self") or 0
        meter.start()
        server.start()
        began = time.monotonic()
        end = began + self.seconds
        while (now := time.monotonic()) < end:
            if memory is None and now >= end - min(MEMORY_LEAD_S, self.seconds / 4):
                memory = sample_memory(pids)
            tick(min(0.5, end - now))
        meter.stop()
        server.stop()
        elapsed = time.monotonic() - began
        return {"elapsed_s": round(elapsed, 3), "meter": meter,
                "self_cpu_s": time.process_time() - self_start,
                "self_wakeups": (procfs.wakeups("self") or 0) - self_wakeups,
                "server_cpu_s": server.total, "memory": memory or sample_memory(pids)}

    def cpu_report(self, cpu_s: float, elapsed_s: float, wakeups: int) -> dict[str, float]:
        video_s = self.cameras * elapsed_s
        return {"cpu_s": round(cpu_s, 3),
                "cpu_pct_per_camera": round(100 * cpu_s / video_s, 3),
                "wakeups_per_camera_s": round(wakeups / video_s, 1)}


def ffprobe_video(path: Path) -> tuple[int, float]:
    """(video packets in the file, video duration in seconds)."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_packets",
         "-show_entries", "stream=nb_read_packets,duration", "-of", "json", str(path)],
        capture_output=True, text=True, check=True).stdout
    stream = json.loads(out)["streams"][0]
    duration = stream.get("duration")
    return int(stream["nb_read_packets"]), float(duration) if duration not in (None, "N/A") else 0.0


def frames_report(files: list[Path], fps: float, recorded_s: float | None = None
                  ) -> dict[str, Any]:
    """Frames found in `files` against fps x recorded seconds (the files' own video
    duration unless the recorder says how long it recorded)."""
    counts = [ffprobe_video(f) for f in files]
    frames = sum(c[0] for c in counts)
    seconds = recorded_s if recorded_s is not None else sum(c[1] for c in counts)
    expected = round(fps * seconds)
    return {"files": len(files), "in_files": frames, "recorded_s": round(seconds, 3),
            "expected": expected,
            "error_pct": round(100 * (frames - expected) / expected, 3) if expected else None}


# -- nvr-edge ------------------------------------------------------------------------------

def write_config(folder: Path, urls: list[str], pm: pluggy.PluginManager,
                 engine: str = "pyav") -> Config:
    document = appliance_document({f"cam{i}": url for i, url in enumerate(urls, start=1)},
                                  device_id="bench", segment_seconds=SEGMENT_SECONDS,
                                  catalog_url=f"sqlite:///{folder / 'state' / 'catalog.db'}",
                                  connect_timeout_s=None,  # the defaults are what is measured
                                  recording={"engine": engine})
    return load_config(write_toml(folder / "nvr-edge.toml", document), pm)


def packets_report(counters: dict[str, int]) -> dict[str, int]:
    c = {k: counters.get(k, 0) for k in ("received", "written", "before_first_keyframe",
                                         "no_picture", "audio_dropped", "rejected")}
    c["lost"] = (c["received"] - c["before_first_keyframe"] - c["no_picture"] - c["written"]
                 - c["audio_dropped"] - c["rejected"])
    return c


def bench_nvr_edge(window: Window, urls: list[str], folder: Path, fps: float,
                   engine: str = "pyav") -> dict[str, Any]:
    from nvr_edge.appliance.run import appliance_catalog
    from nvr_edge.appliance.supervisor import Supervisor
    from nvr_edge.plugins import make_plugin_manager

    folder.mkdir(parents=True, exist_ok=True)
    # The recorder alone, as the ffmpeg CLI is alone: installed plugins stay out.
    pm = make_plugin_manager(load_entry_points=False)
    config = write_config(folder, urls, pm, engine)
    for sub in (config.storage.cache_dir, config.storage.archive_dir, config.storage.state_dir):
        sub.mkdir(parents=True, exist_ok=True)
    catalog = appliance_catalog(config, pm)  # the catalog exactly as `nvr-edge run` has it
    supervisor = Supervisor(config, pm, catalog, log_level=logging.WARNING)
    try:
        supervisor.start()
        _wait(lambda: all(r.state == CameraState.ONLINE for r in supervisor.cameras.values()),
              supervisor.poll, "every nvr-edge worker to be ONLINE")
        workers = [r.process.pid for r in supervisor.cameras.values()]
        forkserver = parent_pid(workers[0])
        # multiprocessing's other helper (the resource tracker) is ours too
        helpers = [p for p in child_pids(os.getpid()) if p not in (window.server_pid, forkserver)]
        progress(f"nvr-edge ({engine}): {len(workers)} workers online; measuring "
                 f"{window.seconds:.0f} s")
        measured = window.run([*workers, forkserver, *helpers], supervisor.poll)
    finally:
        supervisor.stop()
        catalog.close()
    meter: CpuMeter = measured["meter"]
    assert meter.used_s is not None and meter.wakeups is not None
    workers_s = sum(meter.used_s[p] for p in workers)
    helpers_s = sum(meter.used_s[p] for p in helpers)
    cpu = measured["self_cpu_s"] + workers_s + meter.used_s[forkserver] + helpers_s
    runtimes = supervisor.cameras.values()
    packets = {r.camera.id: packets_report(r.counters) for r in runtimes}
    recorded_s = sum(r.recorded_ms for r in runtimes) / 1000
    # closed segments may already have moved on to the archive tier
    files = sorted(f for tier in (config.storage.cache_dir, config.storage.archive_dir)
                   for f in tier.rglob("*.mp4"))
    return {
        "engine": engine,
        **window.cpu_report(cpu, measured["elapsed_s"],
                            measured["self_wakeups"] + sum(meter.wakeups.values())),
        "window_s": measured["elapsed_s"],
        "cpu_s_by_process": {"supervisor": round(measured["self_cpu_s"], 3),
                             "workers": round(workers_s, 3),
                             "forkserver": round(meter.used_s[forkserver], 3),
                             "other_helpers": round(helpers_s, 3)},
        "memory_per_worker": memory_stats([m for m in measured["memory"]
                                           if m["pid"] in workers]),
        "packets": packets,
        "packets_lost": sum(p["lost"] for p in packets.values()),
        "frames": frames_report(files, fps, recorded_s),
        "segments": sum(r.segments for r in runtimes),
        "worker_restarts": sum(r.restarts for r in runtimes),
        "simcam_cpu_s": round(measured["server_cpu_s"], 3),
    }


# -- the ffmpeg CLI anchor -----------------------------------------------------------------

def ffmpeg_command(url: str, pattern: Path) -> list[str]:
    # -nostdin/-loglevel only keep the terminal quiet; the recording path is the anchor's.
    return ["ffmpeg", "-nostdin", "-loglevel", "error", "-rtsp_transport", "tcp", "-i", url,
            "-c", "copy", "-f", "segment", "-segment_time", str(SEGMENT_SECONDS),
            "-reset_timestamps", "1", str(pattern)]


def bench_ffmpeg(window: Window, urls: list[str], folder: Path, fps: float
                 ) -> dict[str, Any]:
    folder.mkdir(parents=True, exist_ok=True)
    patterns = [folder / f"cam{i}_%03d.mp4" for i in range(1, len(urls) + 1)]
    procs: list[subprocess.Popen[bytes]] = []
    with open(folder / "ffmpeg.log", "ab") as errors:
        try:
            for url, pattern in zip(urls, patterns, strict=True):
                procs.append(subprocess.Popen(ffmpeg_command(url, pattern),
                                              stdin=subprocess.DEVNULL,
                                              stdout=subprocess.DEVNULL, stderr=errors))
            first_files = [Path(str(p).replace("%03d", "000")) for p in patterns]
            _wait(lambda: all(_size(f) >= FFMPEG_STARTED_BYTES for f in first_files),
                  time.sleep, "every ffmpeg to write its output")
            progress(f"ffmpeg: {len(procs)} processes writing; measuring "
                     f"{window.seconds:.0f} s")
            measured = window.run([p.pid for p in procs], time.sleep)
        finally:
            _stop_all(procs)
    files = sorted(folder.glob("cam*_*.mp4"))
    return {
        **window.cpu_report(measured["meter"].total, measured["elapsed_s"],
                            sum(measured["meter"].wakeups.values())),
        "window_s": measured["elapsed_s"],
        "memory_per_process": memory_stats(measured["memory"]),
        "frames": frames_report(files, fps),
        "exit_codes": [p.returncode for p in procs],
        "command": ffmpeg_command("URL", Path("OUT_%03d.mp4")),
        "simcam_cpu_s": round(measured["server_cpu_s"], 3),
    }


def _stop_all(procs: list[subprocess.Popen[bytes]]) -> None:
    """SIGINT is ffmpeg's 'finish the file and exit'."""
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
    for proc in procs:
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


# -- the whole run -------------------------------------------------------------------------

def progress(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def _wait(ready: Callable[[], bool], idle: Callable[[float], None], what: str) -> None:
    deadline = time.monotonic() + ONLINE_TIMEOUT_S
    while not ready():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {ONLINE_TIMEOUT_S:.0f} s waiting for {what}")
        idle(0.2)


def run_record_bench(cameras: int, seconds: float, work_dir: Path | None,
                     engines: tuple[str, ...] = ("pyav",)) -> int:
    from nvr_edge_testing.simcam import SimCameraServer, ensure_clip

    if cameras < 1 or seconds <= 0:
        print("nvr-edge bench: --cameras and --seconds must be positive", file=sys.stderr)
        return 2
    root = Path(work_dir or tempfile.mkdtemp(prefix="nvr-bench-")).resolve()
    try:
        # Results of an earlier run in the same work dir must not be counted again.
        for sub in ("nvr-edge", "nvr-edge-native", "ffmpeg"):
            shutil.rmtree(root / sub, ignore_errors=True)
        progress(f"preparing the 1080p30 clip (cached in {root / 'clips'})")
        clip = ensure_clip(root / "clips")
        with SimCameraServer(root / "clips", cameras=cameras, main=clip,
                             log_path=root / "simcam.log") as server:
            assert server.pid is not None
            urls = [server.url(i) for i in range(1, cameras + 1)]
            window = Window(seconds, cameras, server.pid)
            sides = [bench_nvr_edge(window, urls, root / ("nvr-edge" if engine == "pyav" else
                                                          f"nvr-edge-{engine}"),
                                    clip.fps, engine) for engine in engines]
            ffmpeg = bench_ffmpeg(window, urls, root / "ffmpeg", clip.fps)
    finally:
        if work_dir is None:
            shutil.rmtree(root, ignore_errors=True)
    result = summarise(cameras, seconds, clip, sides[0], ffmpeg)
    if len(sides) > 1:  # the second engine, against the same anchor
        other = summarise(cameras, seconds, clip, sides[1], ffmpeg)
        result.update({"nvr_edge_native": sides[1], "ratio_native": other["ratio"],
                       "met_native": other["met"]})
    print(json.dumps(result, indent=2))
    return 0


def summarise(cameras: int, seconds: float, clip: Any, nvr: dict[str, Any],
              ffmpeg: dict[str, Any]) -> dict[str, Any]:
    ratio = nvr["cpu_pct_per_camera"] / ffmpeg["cpu_pct_per_camera"] \
        if ffmpeg["cpu_pct_per_camera"] else None
    pss = nvr["memory_per_worker"].get("pss_mib", {}).get("max")
    return {
        "benchmark": "record",
        "cameras": cameras,
        "seconds": seconds,
        "machine": machine_info(),
        "clip": {"width": clip.width, "height": clip.height, "fps": clip.fps,
                 "bitrate_kbps": clip.bitrate_kbps, "gop_frames": clip.gop_frames,
                 "audio": clip.audio},
        "window": ("per recorder: from the moment every camera is being written (nvr-edge: "
                   "all workers ONLINE; ffmpeg: all outputs growing) for `seconds` of wall "
                   "time; clip encoding, server start, connecting and final close excluded"),
        "cpu_pct_per_camera": "CPU seconds / (cameras x window seconds) x 100, "
                              "i.e. % of one core per camera",
        "wakeups_per_camera_s": "voluntary context switches of every thread / (cameras x "
                                "window seconds); nvr-edge's include the supervisor's (this "
                                "process, whose bench loop is the supervisor's poll)",
        "nvr_edge": nvr,
        "ffmpeg": ffmpeg,
        "ratio": round(ratio, 3) if ratio is not None else None,
        "targets": TARGETS,
        "met": {"ratio": ratio is not None and ratio <= TARGETS["ratio_max"],
                "pss": pss is not None and pss <= TARGETS["pss_mib_per_worker_max"],
                "packets_lost": nvr["packets_lost"] == TARGETS["packets_lost"]},
    }
