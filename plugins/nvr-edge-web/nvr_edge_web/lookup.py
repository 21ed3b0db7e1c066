"""A segment by its catalog id (how the HTTP API names a segment)."""

from __future__ import annotations

from nvr_edge import Catalog, SegmentRecord


def segment_by_id(catalog: Catalog, segment_id: int) -> SegmentRecord | None:
    """Blocking (runs in the catalog reader thread); CatalogError when unreachable or when
    the backend cannot look ids up."""
    return catalog.segment_by_id(segment_id)
