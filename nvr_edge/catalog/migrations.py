"""Versioned schema migrations, shared by every SQL backend.

`{pk}` is the only dialect difference: each backend substitutes its auto-increment key.
Append new versions; never edit an applied one.
"""

from __future__ import annotations

MIGRATIONS: list[tuple[int, list[str]]] = [
    (1, [
        """CREATE TABLE segments (
            id {pk},
            camera TEXT NOT NULL,
            stream TEXT NOT NULL,
            start_ms BIGINT NOT NULL,
            end_ms BIGINT NOT NULL,
            duration_ms BIGINT NOT NULL,
            bytes BIGINT NOT NULL,
            path TEXT NOT NULL UNIQUE,
            tier TEXT NOT NULL,
            video_codec TEXT NOT NULL,
            width INTEGER NOT NULL,
            height INTEGER NOT NULL,
            has_audio SMALLINT NOT NULL,
            status TEXT NOT NULL DEFAULT 'ok',
            indexed_ms BIGINT NOT NULL
        )""",
        "CREATE INDEX segments_camera_start ON segments (camera, start_ms)",
        "CREATE INDEX segments_start ON segments (start_ms)",
    ]),
    # Version 2: checksums for verified tier moves; tier lookups for the mover and cleanup.
    (2, [
        "ALTER TABLE segments ADD COLUMN checksum TEXT",
        "CREATE INDEX segments_tier_start ON segments (tier, start_ms)",
    ]),
    # Version 3: where a verified off-box copy lives (an object store's key) and since when.
    (3, [
        "ALTER TABLE segments ADD COLUMN object_key TEXT",
        "ALTER TABLE segments ADD COLUMN archived_ms BIGINT",
    ]),
]

LATEST_VERSION = MIGRATIONS[-1][0]
