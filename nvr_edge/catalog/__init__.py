"""The segment catalog: one interface, SQLite and PostgreSQL backends chosen by URL."""

from .base import Catalog, CatalogError, SegmentQuery
from .migrations import MIGRATIONS

__all__ = ["MIGRATIONS", "Catalog", "CatalogError", "SegmentQuery"]
