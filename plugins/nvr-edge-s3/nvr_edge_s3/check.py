"""`nvr-edge check`: every segment the catalog says is copied has its object, whole."""

from __future__ import annotations

from pathlib import Path

from nvr_edge import Catalog, file_crc32

from .settings import S3Settings
from .store import Bucket, StoredObject, StoreError, expected_etag


def check_copies(settings: S3Settings, catalog: Catalog,
                 bucket: Bucket | None = None) -> list[tuple[str, str, str]]:
    """Differences as `(kind, path, detail)`: object-missing, object-size, object-checksum,
    or object-store (the store cannot be asked; its copies are then unknown)."""
    bucket = bucket or Bucket(settings)
    found = []
    for copy in catalog.object_copies():
        segment = copy.segment
        try:
            stored = bucket.stat(copy.object_key)
            problem = None if stored is None or stored.size != segment.bytes else \
                _content_problem(segment.path, segment.checksum, stored, bucket, copy.object_key)
        except StoreError as exc:
            return [*found, ("object-store", bucket.where, str(exc))]
        if stored is None:
            found.append(("object-missing", segment.path, copy.object_key))
        elif stored.size != segment.bytes:
            found.append(("object-size", segment.path,
                          f"{copy.object_key}: {stored.size} bytes, catalog {segment.bytes}"))
        elif problem:
            found.append(("object-checksum", segment.path, f"{copy.object_key}: {problem}"))
    return found


def _content_problem(path: str, checksum: str | None, stored: StoredObject,
                     bucket: Bucket, stored_key: str) -> str | None:
    """With the local file: the store's ETag (it recomputes it on any overwrite) against
    the file's. Without: the crc32 stored with the object against the catalog's."""
    local = Path(path)
    if local.exists():
        want = expected_etag(local, bucket.part_size)
        if stored.etag == want:
            return None
        # not the MD5 of the file: damaged, or a store whose ETags are no MD5 (encryption):
        # the bytes decide
        have, here = bucket.read_crc32(stored_key), file_crc32(local)
        return None if have == here else f"ETag {stored.etag}, local file {want}; read " \
                                         f"back {have}, local file {here}"
    if checksum and stored.crc32 != checksum:
        return f"crc32 {stored.crc32}, catalog {checksum}"
    return None
