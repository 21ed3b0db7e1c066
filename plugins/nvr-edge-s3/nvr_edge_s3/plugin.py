"""The plugin object: closed segments in, verified copies in the bucket out.

Idle when the config has no [s3] table."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nvr_edge import Alert, Appliance, Catalog, Config, SegmentRecord, hookimpl, now_ms

from .queue import UploadQueue
from .settings import S3Settings, read_s3

if TYPE_CHECKING:
    from .uploader import Uploader

QUEUE_FILE = "s3-uploads.db"


class S3Plugin:
    """One per appliance run: the uploader lives from `nvr_startup` to `nvr_shutdown`."""

    def __init__(self) -> None:
        self.uploader: Uploader | None = None
        self.appliance: Appliance | None = None
        self.catalog: Catalog | None = None

    def _start(self, config: Config) -> None:
        settings: S3Settings | None = config.sections.get("s3")
        if settings is None or self.catalog is None:
            return
        from .uploader import Uploader  # the S3 client loads only where [s3] is set

        queue = UploadQueue(config.storage.state_dir / QUEUE_FILE)
        self.uploader = Uploader(settings, queue, self.catalog, self._alert, config.device_id)
        self.uploader.start()

    def _stop(self) -> None:
        uploader, self.uploader = self.uploader, None
        if uploader is not None:
            uploader.stop()
            uploader.queue.close()

    def _alert(self, alert: Alert) -> None:
        if self.appliance is not None:
            self.appliance.call_hook("nvr_alert", alert=alert, config=self.appliance.config)

    @hookimpl
    def nvr_config_sections(self) -> dict[str, Any]:
        return {"s3": read_s3}

    @hookimpl
    def nvr_startup(self, config: Config, catalog: Catalog, appliance: Appliance) -> None:
        self.appliance, self.catalog = appliance, catalog
        self._start(config)

    @hookimpl
    def nvr_shutdown(self, config: Config) -> None:
        self._stop()
        self.appliance = self.catalog = None

    @hookimpl
    def nvr_segment_closed(self, segment: SegmentRecord, config: Config) -> None:
        """Queued on disk here (a few ms, fsynced); the upload happens in the thread."""
        uploader = self.uploader
        if uploader is not None and uploader.settings.archives(segment.camera):
            uploader.enqueue([uploader.upload_for(segment, closed_ms=now_ms())])

    @hookimpl
    def nvr_object_store(self, config: Config) -> str | None:
        settings: S3Settings | None = config.sections.get("s3")
        return f"s3://{settings.bucket}/{settings.prefix}" if settings else None

    @hookimpl
    def nvr_segment_reader(self, segment: SegmentRecord, catalog: Catalog,
                           config: Config) -> Any:
        """The bucket copy of a segment whose file left the box (also in the CLI process,
        where no uploader runs)."""
        settings: S3Settings | None = config.sections.get("s3")
        copy = catalog.object_copy(segment.path) if settings is not None else None
        if settings is None or copy is None:
            return None
        from .readback import BucketSegment
        from .store import Bucket

        uploader = self.uploader
        bucket = uploader.bucket if uploader is not None and uploader.settings == settings \
            else Bucket(settings)
        return BucketSegment(bucket.client, settings.bucket, copy.object_key)

    @hookimpl
    def nvr_status_part(self, config: Config) -> dict[str, Any] | None:
        uploader = self.uploader
        return {"s3": uploader.status()} if uploader is not None else None

    @hookimpl
    def nvr_check(self, config: Config, catalog: Catalog) -> list[tuple[str, str, str]]:
        settings: S3Settings | None = config.sections.get("s3")
        if settings is None:
            return []
        from .check import check_copies

        return check_copies(settings, catalog)

    @hookimpl
    def nvr_config_changed(self, config: Config, previous: Config) -> None:
        """A changed [s3] table: a new uploader on the same queue (entries keep their
        keys, so a new prefix applies to segments closed from now on)."""
        if config.sections.get("s3") != previous.sections.get("s3"):
            self._stop()
            self._start(config)


plugin = S3Plugin()  # what the entry point names
