"""The segment catalog: one interface, SQLite and PostgreSQL backends chosen by URL."""

from .base import ALL_SEGMENTS, Catalog, CatalogError, SegmentQuery, TierUsage
from .migrations import MIGRATIONS

__all__ = ["ALL_SEGMENTS", "MIGRATIONS", "Catalog", "CatalogError", "SegmentQuery", "TierUsage"]
