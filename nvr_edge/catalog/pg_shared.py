"""Schema version 4, PostgreSQL only: one catalog shared by many boxes.

Every row carries its box's device id; uniqueness is per device. The table is range
partitioned by `start_ms`, one partition per UTC day, so that an operator's query for a
time range reads only the days it names and a day past every box's retention is dropped
whole. Row-level security lets a box's database role see and change only its own rows:
`catalog_roles` maps each role to the device it writes as (maintained by the catalog's
owner, `nvr-edge fleet catalog add-box`); a role mapped to no device (NULL) is an operator,
who reads every box's rows and changes none. The owner of the tables (who ran this
migration) is the fleet's administrator and, as PostgreSQL's table owner, is not subject
to the policies: a single box that always owned its catalog keeps working unchanged.

Policies name `current_user`, which a box cannot change: it logs in as its own role and is a
member of no other role (a session setting, by contrast, is anyone's to `SET`). Partitions
are created by `catalog_add_days`, a SECURITY DEFINER function the owner grants to boxes:
a box can add day partitions (bounded) but has no right to create anything else.

`{device}` is the box that migrates an existing single-box catalog: its rows become that
box's rows. `{schema}` names the schema the tables live in, so that the policy functions
never resolve a name through a search path a box could change.
"""

from __future__ import annotations

DAY_MS = 86_400_000
PARTITION_LOCK_KEY = 0x6E7673  # beside base.SCHEMA_LOCK_KEY
# a call may add at most this many days: a stolen box cannot flood the catalog with tables
MAX_DAYS_PER_CALL = 32

SHARED_CATALOG: list[tuple[int, list[str]]] = [
    (4, [
        """CREATE TABLE catalog_roles (
            role NAME PRIMARY KEY,
            device TEXT UNIQUE
        )""",
        # STABLE SQL; the policies call each once per statement (below)
        """CREATE FUNCTION catalog_device() RETURNS TEXT LANGUAGE sql STABLE AS
           $$ SELECT device FROM {schema}.catalog_roles WHERE role = current_user $$""",
        """CREATE FUNCTION catalog_operator() RETURNS BOOLEAN LANGUAGE sql STABLE AS
           $$ SELECT EXISTS (SELECT 1 FROM {schema}.catalog_roles
                             WHERE role = current_user AND device IS NULL) $$""",
        "ALTER TABLE segments RENAME TO segments_single_box",
        """CREATE TABLE segments (
            id BIGINT NOT NULL DEFAULT nextval('segments_id_seq'),
            device TEXT NOT NULL,
            camera TEXT NOT NULL,
            stream TEXT NOT NULL,
            start_ms BIGINT NOT NULL,
            end_ms BIGINT NOT NULL,
            duration_ms BIGINT NOT NULL,
            bytes BIGINT NOT NULL,
            path TEXT NOT NULL,
            tier TEXT NOT NULL,
            video_codec TEXT NOT NULL,
            width INTEGER NOT NULL,
            height INTEGER NOT NULL,
            has_audio SMALLINT NOT NULL,
            status TEXT NOT NULL DEFAULT 'ok',
            indexed_ms BIGINT NOT NULL,
            checksum TEXT,
            object_key TEXT,
            archived_ms BIGINT,
            -- a partitioned table's unique keys must hold the partition key: the path
            -- names the start second, so (device, path) alone is unique in practice
            CONSTRAINT segments_id_start UNIQUE (id, start_ms),
            CONSTRAINT segments_device_path_start UNIQUE (device, path, start_ms)
        ) PARTITION BY RANGE (start_ms)""",
        # one camera, one time range / one box, last hour / a box's mover and cleanup
        "CREATE INDEX segments_device_camera_start ON segments (device, camera, start_ms)",
        "CREATE INDEX segments_device_start ON segments (device, start_ms)",
        "CREATE INDEX segments_device_tier_start ON segments (device, tier, start_ms)",
        f"""CREATE FUNCTION catalog_add_days(from_ms BIGINT, to_ms BIGINT) RETURNS INTEGER
           LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
           DECLARE
               day BIGINT := floor(from_ms::numeric / {DAY_MS})::bigint;
               made INTEGER := 0;
               part TEXT;
           BEGIN
               IF to_ms - day * {DAY_MS} > {MAX_DAYS_PER_CALL}::bigint * {DAY_MS} THEN
                   RAISE EXCEPTION 'catalog_add_days: at most {MAX_DAYS_PER_CALL} days at once';
               END IF;
               PERFORM pg_advisory_xact_lock({PARTITION_LOCK_KEY});
               WHILE day * {DAY_MS} < to_ms LOOP
                   part := 'segments_' || to_char(to_timestamp(day * 86400) AT TIME ZONE 'UTC',
                                                  'YYYYMMDD');
                   IF to_regclass(part) IS NULL THEN
                       EXECUTE format('CREATE TABLE %I PARTITION OF segments '
                                      'FOR VALUES FROM (%s) TO (%s)',
                                      part, day * {DAY_MS}, (day + 1) * {DAY_MS});
                       made := made + 1;
                   END IF;
                   day := day + 1;
               END LOOP;
               RETURN made;
           END $$""",
        "REVOKE EXECUTE ON FUNCTION catalog_add_days(BIGINT, BIGINT) FROM PUBLIC",
        # the days the single box's rows fall on, each created once (a catalog of years
        # of sparse history gets the days it uses, not every day in between)
        f"""SELECT catalog_add_days(d * {DAY_MS}, (d + 1) * {DAY_MS}) FROM (
               SELECT DISTINCT floor(start_ms::numeric / {DAY_MS})::bigint AS d
               FROM segments_single_box) AS days""",
        """INSERT INTO segments (id, device, camera, stream, start_ms, end_ms, duration_ms,
               bytes, path, tier, video_codec, width, height, has_audio, status, indexed_ms,
               checksum, object_key, archived_ms)
           SELECT id, {device}, camera, stream, start_ms, end_ms, duration_ms, bytes, path,
               tier, video_codec, width, height, has_audio, status, indexed_ms, checksum,
               object_key, archived_ms
           FROM segments_single_box""",
        "ALTER SEQUENCE segments_id_seq OWNED BY segments.id",
        "DROP TABLE segments_single_box",
        "ALTER TABLE segments ENABLE ROW LEVEL SECURITY",
        # `(SELECT f())`: an init plan, run once per statement; a bare call in a filter
        # runs its query once per row (measured: 640 rows took 5x as long)
        """CREATE POLICY segments_read ON segments FOR SELECT
           USING (device = (SELECT {schema}.catalog_device())
                  OR (SELECT {schema}.catalog_operator()))""",
        """CREATE POLICY segments_insert ON segments FOR INSERT
           WITH CHECK (device = (SELECT {schema}.catalog_device()))""",
        """CREATE POLICY segments_update ON segments FOR UPDATE
           USING (device = (SELECT {schema}.catalog_device()))
           WITH CHECK (device = (SELECT {schema}.catalog_device()))""",
        """CREATE POLICY segments_delete ON segments FOR DELETE
           USING (device = (SELECT {schema}.catalog_device()))""",
    ]),
]
