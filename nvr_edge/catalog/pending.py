"""A catalog that may not be reachable yet: the appliance records from boot even when its
PostgreSQL is down, and picks the catalog up as soon as it answers."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from nvr_edge.catalog.base import (
    ALL_SEGMENTS,
    Catalog,
    CatalogError,
    ObjectCopy,
    SegmentQuery,
    TierUsage,
)
from nvr_edge.logs import redact
from nvr_edge.models import SegmentRecord

log = logging.getLogger(__name__)

RETRY_S = 5.0


class PendingCatalog(Catalog):
    """Opens the real catalog on first use, retrying at most every RETRY_S; until it opens,
    every call raises CatalogError (which SpooledCatalog turns into spooled writes)."""

    def __init__(self, url: str, opener: Callable[[], Catalog]) -> None:
        self.url = url
        self.opener = opener
        self.real: Catalog | None = None
        self.next_try = 0.0
        self.lock = threading.Lock()

    def _get(self) -> Catalog:
        with self.lock:
            if self.real is not None:
                return self.real
            if time.monotonic() < self.next_try:
                raise CatalogError(f"catalog {redact(self.url)} not reachable yet")
            try:
                self.real = self.opener()
            except CatalogError:
                self.next_try = time.monotonic() + RETRY_S
                raise
            log.info("catalog %s is open", self.real.display_url)
            return self.real

    def add_segment(self, segment: SegmentRecord) -> int:
        return self._get().add_segment(segment)

    def move_segment(self, old_path: str, new_path: str, tier: str,
                     checksum: str | None = None) -> None:
        self._get().move_segment(old_path, new_path, tier, checksum)

    def set_status_by_path(self, path: str, status: str) -> None:
        self._get().set_status_by_path(path, status)

    def delete_by_path(self, path: str) -> None:
        self._get().delete_by_path(path)

    def segments(self, query: SegmentQuery = ALL_SEGMENTS) -> list[SegmentRecord]:
        return self._get().segments(query)

    def segment_by_path(self, path: str) -> SegmentRecord | None:
        return self._get().segment_by_path(path)

    def segment_by_id(self, segment_id: int) -> SegmentRecord | None:
        return self._get().segment_by_id(segment_id)

    def set_object_copy(self, path: str, object_key: str, archived_ms: int) -> None:
        self._get().set_object_copy(path, object_key, archived_ms)

    def object_copies(self, camera: str | None = None) -> list[ObjectCopy]:
        return self._get().object_copies(camera)

    def object_copy(self, path: str) -> ObjectCopy | None:
        return self._get().object_copy(path)

    def usage(self, tier: str) -> TierUsage:
        return self._get().usage(tier)

    def schema_version(self) -> int:
        return self._get().schema_version()

    def heal_storage(self) -> str | None:
        try:
            return self._get().heal_storage()
        except CatalogError:
            return None  # unreachable is not damaged: writes spool until it answers

    def close(self) -> None:
        if self.real is not None:
            self.real.close()
