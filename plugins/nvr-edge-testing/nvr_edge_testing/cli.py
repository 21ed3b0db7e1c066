"""`nvr-edge demo`, `nvr-edge simcam` and `nvr-edge bench
record|live|mqtt|fleet|catalog|s3|encode|rtsp`: the tools' subcommands, added through
`nvr_cli_commands`.

Loaded by every `nvr-edge` command on a machine with this distribution: the tools
themselves are imported only when their subcommand runs.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from nvr_edge import hookimpl
from nvr_edge_testing.bench.live import cli as live_cli
from nvr_edge_testing.simcam import cli as simcam_cli


@hookimpl
def nvr_cli_commands(subparsers: argparse._SubParsersAction) -> None:
    demo = subparsers.add_parser("demo", help="simulated cameras recorded into a local folder")
    demo.add_argument("--dir", type=Path, default=Path("nvr-demo"))
    demo.add_argument("--cameras", type=int, default=2)
    demo.add_argument("--segment-seconds", type=int, default=30)
    demo.add_argument("--duration", type=float, default=0,
                      help="stop after this many seconds (0: until Ctrl-C)")
    demo.set_defaults(nvr_run=_demo)

    simcam = subparsers.add_parser("simcam", help="serve simulated RTSP cameras",
                                   description="Serve simulated RTSP cameras looping test "
                                               "clips.")
    simcam_cli.add_arguments(simcam)
    simcam.set_defaults(nvr_run=lambda args, _pm: simcam_cli.run(args))

    bench = subparsers.add_parser("bench", help="benchmarks (JSON on stdout)")
    kinds = bench.add_subparsers(dest="bench", required=True)
    record = kinds.add_parser("record", help="nvr-edge vs the ffmpeg CLI, same streams")
    record.add_argument("--cameras", type=int, default=4)
    record.add_argument("--seconds", type=float, default=60)
    record.add_argument("--json", action="store_true")
    record.add_argument("--work-dir", type=Path, default=None)
    record.add_argument("--engine", choices=("pyav", "native", "both"), default="pyav",
                        help="nvr-edge's recording.engine; both: one after the other, same "
                             "run (the native one as nvr_edge_native)")
    record.add_argument("--ramp", default=None, metavar="N,N,...",
                        help="nvr-edge alone at each camera count (e.g. 16,32,48,64), "
                             "each for --seconds, and the first count it cannot keep up "
                             "with; one engine")
    record.set_defaults(nvr_run=_bench_record)

    live = kinds.add_parser("live", help="the live view glass to glass, in Chromium")
    live_cli.add_arguments(live)
    live.set_defaults(nvr_run=lambda args, _pm: live_cli.run_bench(args))

    mqtt = kinds.add_parser("mqtt", help="what one box sends an MQTT broker, per hour")
    mqtt.add_argument("--cameras", type=int, default=4)
    mqtt.add_argument("--seconds", type=float, default=600)
    mqtt.add_argument("--segment-seconds", type=int, default=180)
    mqtt.add_argument("--stats-interval", type=float, default=60.0)
    mqtt.set_defaults(nvr_run=_bench_mqtt)
    fleet = kinds.add_parser("fleet", help="N simulated boxes (the real MQTT bridge each) "
                                           "on one Mosquitto: broker load, fleet commands, "
                                           "a broker restart")
    fleet.add_argument("--boxes", default="100,1000",
                       help="fleet sizes to measure, comma-separated")
    fleet.add_argument("--cameras", type=int, default=8, help="per box")
    fleet.add_argument("--seconds", type=float, default=60, help="the steady window")
    fleet.add_argument("--segment-seconds", type=float, default=180)
    fleet.add_argument("--work-dir", type=Path, default=None)
    fleet.set_defaults(nvr_run=_bench_fleet)

    s3 = kinds.add_parser("s3", help="the object-storage tier per camera-hour, and a drain")
    s3.add_argument("--cameras", type=int, default=4)
    s3.add_argument("--seconds", type=float, default=300)
    s3.add_argument("--segment-seconds", type=int, default=60)
    s3.add_argument("--outage", type=float, default=120.0, help="seconds the store is away")
    s3.set_defaults(nvr_run=_bench_s3)

    catalog = kinds.add_parser("catalog", help="the shared PostgreSQL catalog at fleet "
                               "scale: load, size per million rows, inserts, queries, drain")
    catalog.add_argument("--boxes", type=int, default=1000)
    catalog.add_argument("--cameras", type=int, default=32, help="per box")
    catalog.add_argument("--hours", type=float, default=24, help="history to load (COPY)")
    catalog.add_argument("--segment-seconds", type=int, default=180)
    catalog.add_argument("--writers", type=int, default=16,
                         help="boxes inserting at once, each its own role")
    catalog.add_argument("--insert-seconds", type=float, default=30)
    catalog.add_argument("--drain-boxes", type=int, default=100,
                         help="boxes draining their spools at once (0: skip)")
    catalog.add_argument("--outage", type=float, default=600, help="seconds spooled per box")
    catalog.add_argument("--work-dir", type=Path, default=None)
    catalog.set_defaults(nvr_run=_bench_catalog)

    encode = kinds.add_parser("encode", help="software transcodes: CPU per video second, "
                              "first packet; nvr-edge vs the ffmpeg CLI")
    encode.add_argument("--seconds", type=float, default=10)
    encode.set_defaults(nvr_run=_bench_encode)

    rtsp = kinds.add_parser("rtsp", help="the RTSP restream: latency and appliance CPU "
                            "per client at 1 and 8 clients, against the camera read directly")
    rtsp.add_argument("--seconds", type=float, default=15.0, help="each measured window")
    rtsp.add_argument("--clients", default="1,8", help="client counts, comma-separated")
    rtsp.add_argument("--size", type=live_cli.parse_size, default=(1280, 720),
                      help="the clock sub stream's size")
    rtsp.add_argument("--work-dir", type=Path, default=None)
    rtsp.set_defaults(nvr_run=_bench_rtsp)

    mjpeg = kinds.add_parser("mjpeg", help="an MJPEG 720p camera recorded as H.264: worker "
                             "CPU vs the ffmpeg CLI")
    mjpeg.add_argument("--seconds", type=float, default=20)
    mjpeg.set_defaults(nvr_run=_bench_mjpeg)


def _demo(args: argparse.Namespace, _pm: Any) -> int:
    from nvr_edge_testing.demo import run_demo

    # The demo's own report is the point: the appliance's log stays quiet unless asked.
    level = getattr(logging, args.log_level or "WARNING")
    logging.getLogger().setLevel(level)
    return run_demo(args.dir, cameras=args.cameras, segment_seconds=args.segment_seconds,
                    duration_s=args.duration, log_level=level)


def _bench_record(args: argparse.Namespace, _pm: Any) -> int:
    from nvr_edge_testing.bench.record import run_record_bench

    if args.ramp is not None:
        from nvr_edge_testing.bench.record_ramp import parse_steps, run_record_ramp

        if args.engine == "both":
            print("nvr-edge bench: --ramp takes one --engine", file=sys.stderr)
            return 2
        try:
            steps = parse_steps(args.ramp)
        except ValueError as exc:
            print(f"nvr-edge bench: {exc}", file=sys.stderr)
            return 2
        return run_record_ramp(steps, args.seconds, args.work_dir, args.engine)
    engines = ("pyav", "native") if args.engine == "both" else (args.engine,)
    return run_record_bench(args.cameras, args.seconds, args.work_dir, engines)


def _bench_mqtt(args: argparse.Namespace, _pm: Any) -> int:
    from nvr_edge_testing.bench.mqtt import run_bench

    return run_bench(args.cameras, args.seconds, args.segment_seconds, args.stats_interval)


def _bench_fleet(args: argparse.Namespace, _pm: Any) -> int:
    from nvr_edge_testing.bench.fleet import run_fleet_bench

    counts = [int(n) for n in args.boxes.split(",") if n.strip()]
    return run_fleet_bench(counts, args.cameras, args.seconds, args.segment_seconds,
                           args.work_dir)


def _bench_catalog(args: argparse.Namespace, _pm: Any) -> int:
    from nvr_edge_testing.bench.catalog import run_bench

    return run_bench(args.boxes, args.cameras, args.hours, args.segment_seconds, args.writers,
                     args.insert_seconds, args.drain_boxes, args.outage, args.work_dir)


def _bench_encode(args: argparse.Namespace, _pm: Any) -> int:
    from nvr_edge_testing.bench.encode import run_bench

    return run_bench(args.seconds)


def _bench_mjpeg(args: argparse.Namespace, _pm: Any) -> int:
    from nvr_edge_testing.bench.mjpeg_record import run_bench

    return run_bench(args.seconds)


def _bench_s3(args: argparse.Namespace, _pm: Any) -> int:
    from nvr_edge_testing.bench.s3 import run_bench

    return run_bench(args.cameras, args.seconds, args.segment_seconds, args.outage)



def _bench_rtsp(args: argparse.Namespace, _pm: Any) -> int:
    from nvr_edge_testing.bench.rtsp import run_bench

    return run_bench(args.seconds, args.clients, args.size, args.work_dir)
