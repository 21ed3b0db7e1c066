"""Starting and stopping the appliance: lock, catalog, supervisor, signals, in pairs."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pluggy

from nvr_edge.appliance.lock import InstanceLock
from nvr_edge.appliance.state_folder import usable_state
from nvr_edge.appliance.supervisor import Supervisor
from nvr_edge.catalog import Catalog, CatalogError
from nvr_edge.catalog.pending import PendingCatalog
from nvr_edge.catalog.spool import SpooledCatalog
from nvr_edge.config import Config
from nvr_edge.config_store import secret_texts
from nvr_edge.encode.plugin import ENCODERS
from nvr_edge.logs import mask_known
from nvr_edge.models import Alert, AlertLevel
from nvr_edge.plugins import make_plugin_manager
from nvr_edge.storage.spool_reserve import RESERVE_FILE, ReservedSpool, SpaceReserve

log = logging.getLogger(__name__)


def open_catalog(pm: pluggy.PluginManager, config: Config, create: bool = True) -> Catalog:
    catalog = pm.hook.nvr_catalog_open(url=config.catalog_url, create=create,
                                       device=config.device_id)
    if catalog is None:
        raise CatalogError(f"no catalog plugin serves {config.catalog_url.split(':', 1)[0]}://")
    return catalog


@contextmanager
def opened_catalog(config: Config, pm: pluggy.PluginManager | None = None,
                   create: bool = True) -> Iterator[Catalog]:
    """`create` False: for readers, which must not create or migrate a catalog."""
    catalog = open_catalog(pm or make_plugin_manager(), config, create)
    try:
        yield catalog
    finally:
        catalog.close()


SPOOL_FILE = "catalog-spool.jsonl"


def appliance_catalog(config: Config, pm: pluggy.PluginManager) -> SpooledCatalog:
    """The catalog as the running appliance uses it: opened when reachable (recording starts
    even if PostgreSQL is down at boot), its writes spooled on disk while it is not."""
    pending = PendingCatalog(config.catalog_url, lambda: open_catalog(pm, config))
    try:
        pending.schema_version()  # open now if we can, to log a problem at start-up
    except CatalogError as exc:
        log.error("%s; recording anyway, catalog writes are spooled until it answers", exc)
    state = config.storage.state_dir
    return SpooledCatalog(pending, ReservedSpool(state / SPOOL_FILE,
                                                 SpaceReserve(state / RESERVE_FILE)))


def run_appliance(config: Config, *, pm: pluggy.PluginManager | None = None,
                  log_level: int = logging.INFO,
                  on_tick: Callable[[Supervisor], None] | None = None,
                  stop: threading.Event | None = None) -> None:
    """Record until SIGTERM/SIGINT (or `stop` is set); every open segment is closed on exit."""
    stop = stop or threading.Event()
    mask_known(secret_texts(config.document))
    config, state_problem = usable_state(config)
    if state_problem:
        log.critical("%s", state_problem)
    previous = _install_stop_signals(stop)
    lock = InstanceLock(config.storage.state_dir)
    lock.acquire()
    try:
        for folder in (config.storage.cache_dir, config.storage.archive_dir):
            folder.mkdir(parents=True, exist_ok=True)
        pm = pm or make_plugin_manager()
        catalog = appliance_catalog(config, pm)
        try:
            log.info("nvr-edge %s: %d camera(s), catalog %s", config.device_id,
                     len(config.cameras), catalog.display_url)
            supervisor = Supervisor(config, pm, catalog, log_level)
            supervisor.start()
            # encoders probe in the background (child processes): recording starts at once
            ENCODERS.start_probes(pm, config, alert=supervisor.space_alerts.put)
            if state_problem:
                supervisor.alert(Alert("state_folder_unwritable", AlertLevel.CRITICAL,
                                       state_problem))
            supervisor.run(stop.is_set, on_tick)
            log.info("stopped cleanly")
        finally:
            catalog.close()
    finally:
        lock.release()
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _install_stop_signals(stop: threading.Event) -> dict[int, Any]:
    if threading.current_thread() is not threading.main_thread():
        return {}

    def request_stop(signum: int, _frame: Any) -> None:
        log.info("received %s: closing segments and stopping", signal.Signals(signum).name)
        stop.set()

    return {signum: signal.signal(signum, request_stop)
            for signum in (signal.SIGTERM, signal.SIGINT)}
