"""The segment catalog: one interface, SQLite and PostgreSQL backends chosen by URL."""

from nvr_edge.catalog.base import (
    ALL_SEGMENTS,
    Catalog,
    CatalogError,
    ObjectCopy,
    SegmentQuery,
    TierUsage,
)
from nvr_edge.catalog.migrations import MIGRATIONS

__all__ = ["ALL_SEGMENTS", "MIGRATIONS", "Catalog", "CatalogError", "ObjectCopy", "SegmentQuery",
           "TierUsage"]
