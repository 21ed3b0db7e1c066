"""A real camera worker for tests, run in the test's own process: its config (storage under
`tmp_path`), and the pipe end the worker's messages arrive on."""

from __future__ import annotations

import multiprocessing
import threading
from pathlib import Path
from typing import Any

from nvr_edge_testing.configs import appliance_document

from nvr_edge.camera.worker import CameraWorker, Channel
from nvr_edge.config import parse_config


def camera_worker(tmp_path: Path, url: str, **document: Any) -> tuple[CameraWorker, Any]:
    """Camera "cam1" at `url`; `document`: appliance_document's keyword arguments. Returns
    the worker (its `stop` event set ends it) and the receiving end of its channel."""
    config_document = appliance_document({"cam1": url}, **document)
    config_document["storage"] = {name: str(tmp_path / name)
                                  for name in ("cache_dir", "archive_dir", "state_dir")}
    config = parse_config(config_document)
    ours, theirs = multiprocessing.Pipe(duplex=False)
    stop = threading.Event()
    return CameraWorker(config, config.camera("cam1"), Channel(theirs, "cam1", stop), stop), ours
