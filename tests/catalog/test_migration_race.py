"""Several processes opening one new catalog at the same moment (the appliance starting
while a CLI command opens it too) all get a migrated catalog: the migrations are applied
once, by whichever takes the schema first; the others wait and find them done."""

from __future__ import annotations

import multiprocessing
from typing import Any

from nvr_edge.catalog import Catalog
from nvr_edge.catalog.migrations import MIGRATIONS
from nvr_edge.plugins import make_plugin_manager

OPENERS = 6


def open_catalog(url: str) -> Catalog:
    return make_plugin_manager(load_entry_points=False).hook.nvr_catalog_open(url=url,
                                                                              create=True,
                                                                              device="box")


def _open(url: str, barrier: Any, results: Any) -> None:
    barrier.wait(30)
    try:
        catalog = open_catalog(url)
        results.put(("ok", catalog.schema_version()))
        catalog.close()
    except Exception as exc:  # the test names what any opener met
        results.put(("error", f"{type(exc).__name__}: {exc}"))


def test_catalogs_opened_at_once_migrate_once(catalog_url: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(OPENERS), ctx.Queue()
    openers = [ctx.Process(target=_open, args=(catalog_url, barrier, results))
               for _ in range(OPENERS)]
    for opener in openers:
        opener.start()
    answers = [results.get(timeout=60) for _ in openers]
    for opener in openers:
        opener.join(30)
    catalog = open_catalog(catalog_url)
    migrations = catalog.migrations  # PostgreSQL's include the shared catalog (4)
    assert migrations[: len(MIGRATIONS)] == MIGRATIONS
    assert answers == [("ok", migrations[-1][0])] * OPENERS, answers
    try:
        versions = catalog._execute("SELECT version FROM schema_version ORDER BY version")
        assert [row[0] for row in versions] == [v for v, _ in migrations]  # each once
    finally:
        catalog.close()
