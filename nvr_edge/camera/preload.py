"""What the workers' forkserver imports once, before it forks any camera worker.

Everything a worker imports after the fork is private to it (PSS per camera); what the
forkserver imported first is shared copy-on-write. Issue 15 research: the link watcher's
pyroute2 (and the asyncio it runs on) was imported in every worker after the fork, ~16 MiB
of private memory per camera; the watcher now runs once, in the supervisor. `gc.freeze()`
moves every object made so far out of the collector's sight, so a worker's collections do
not write to (and so copy) the pages of the objects it inherited.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import importlib
import signal

import nvr_edge.camera.worker  # noqa: F401  (PyAV, the recorder, the writer plugins' API)
from nvr_edge.plugins import WORKER_ENTRY_POINT_GROUP, make_plugin_manager

# The modules of the built-in plugins and of the worker's entry-point group (sqlite3 for
# the catalog plugin, say) are imported here rather than in each worker.
make_plugin_manager(group=WORKER_ENTRY_POINT_GROUP)

# The compiled packet path (recording.engine = "native") and the system FFmpeg it links:
# mapped and relocated once here, not in each worker. Absent when it was not built.
with contextlib.suppress(ImportError):
    importlib.import_module("nvr_edge.camera._remux")

# A worker's backoff is cut short by the supervisor's SIGUSR1 (a link came up): ignored
# until the worker installs its handler, so one sent during a fork ends no process (a
# disposition set to ignore survives the fork).
signal.signal(signal.SIGUSR1, signal.SIG_IGN)

# One malloc arena for every thread of a worker (glibc makes one per thread that
# allocates, each keeping its own free pages): -1.6 MiB PSS per worker at 8 cameras; its
# threads hardly allocate at once, so the shared lock costs no measurable CPU.
M_ARENA_MAX = -8
with contextlib.suppress(OSError, AttributeError):
    ctypes.CDLL("libc.so.6").mallopt(M_ARENA_MAX, 1)

gc.collect()
gc.freeze()
