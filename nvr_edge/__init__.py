"""nvr-edge: firmware for ARM network video recorders.

This module is the plugin API: a plugin imports only from `nvr_edge` (docs/PLUGINS.md).
Everything below it is the implementation and may change between releases.
"""

from typing import Any

from nvr_edge.api import (
    ACTIONS,
    Appliance,
    Command,
    CommandError,
    ConfigChange,
    ControlError,
    LiveRelay,
    LiveViewer,
    Param,
    RemoteSegment,
    TokenRefused,
    TokenVerifier,
    WebRoute,
    fleet_subcommands,
)
from nvr_edge.appliance.history import HistoryEvent, read_history
from nvr_edge.candidates import CameraCandidate, CandidateStream, DiscoveryRequest
from nvr_edge.catalog import Catalog, CatalogError, ObjectCopy, SegmentQuery
from nvr_edge.config import (
    SAFE_ID,
    CameraConfig,
    Config,
    ConfigError,
    ConfigKeyDoc,
    ConfigTable,
    StorageConfig,
    config_group,
    config_key,
    config_subtable,
    describe_section,
    nesting_depth,
    read_section,
    read_url,
)
from nvr_edge.config_secrets import Secret, SecretKey, declare_secrets, mask_url
from nvr_edge.encode.annexb import is_annex_b, split_annex_b, split_length_prefixed
from nvr_edge.encode.offer import (
    EncodedPacket,
    EncoderError,
    EncoderOffer,
    EncodeTarget,
    Engine,
    FrameEncoder,
)
from nvr_edge.fsutil import fsync_dir, make_dirs_durable
from nvr_edge.hookspecs import hookimpl
from nvr_edge.live.abr import AbrPolicy, AbrState
from nvr_edge.live.abr import Report as AbrReport
from nvr_edge.live.ladder import RUNG_NAMES
from nvr_edge.live.wire import LivePacket, StreamInfo
from nvr_edge.logs import redact
from nvr_edge.models import (
    Alert,
    CameraState,
    SegmentRecord,
    SegmentStatus,
    Tier,
    iso_utc,
    now_ms,
    parse_iso_ms,
)
from nvr_edge.plugins import DISABLE_AUTOLOAD_ENV, core_version, load_config
from nvr_edge.storage.segment_source import ExportError, segment_source
from nvr_edge.transfer import RateLimiter, crc32_text, file_crc32
from nvr_edge.urls import url_problem

__version__ = core_version()


def export_clip(*args: Any, **kwargs: Any) -> Any:
    """`nvr_edge.storage.export.export_clip`: one MP4 of recorded segments, stream copy
    (imported at the first call: it needs PyAV, which `import nvr_edge` does not load)."""
    from nvr_edge.storage.export import export_clip as export

    return export(*args, **kwargs)


def jpeg_preview(jpeg: bytes, max_width: int) -> tuple[bytes, int, int]:
    """`jpeg` decoded and encoded again at most `max_width` wide (the aspect kept): the new
    JPEG and the source's width and height; ValueError when it does not decode. PyAV is
    imported at the first call."""
    from nvr_edge.encode.still import first_picture

    still = first_picture("mjpeg", None, [jpeg], max_width)
    return still.jpeg, still.width, still.height


__all__ = [
    "ACTIONS",
    "DISABLE_AUTOLOAD_ENV",
    "RUNG_NAMES",
    "SAFE_ID",
    "AbrPolicy",
    "AbrReport",
    "AbrState",
    "Alert",
    "Appliance",
    "CameraCandidate",
    "CameraConfig",
    "CameraState",
    "CandidateStream",
    "Catalog",
    "CatalogError",
    "Command",
    "CommandError",
    "Config",
    "ConfigChange",
    "ConfigError",
    "ConfigKeyDoc",
    "ConfigTable",
    "ControlError",
    "DiscoveryRequest",
    "EncodeTarget",
    "EncodedPacket",
    "EncoderError",
    "EncoderOffer",
    "Engine",
    "ExportError",
    "FrameEncoder",
    "HistoryEvent",
    "LivePacket",
    "LiveRelay",
    "LiveViewer",
    "ObjectCopy",
    "Param",
    "RateLimiter",
    "RemoteSegment",
    "Secret",
    "SecretKey",
    "SegmentQuery",
    "SegmentRecord",
    "SegmentStatus",
    "StorageConfig",
    "StreamInfo",
    "Tier",
    "TokenRefused",
    "TokenVerifier",
    "WebRoute",
    "__version__",
    "config_group",
    "config_key",
    "config_subtable",
    "crc32_text",
    "declare_secrets",
    "describe_section",
    "export_clip",
    "file_crc32",
    "fleet_subcommands",
    "fsync_dir",
    "hookimpl",
    "is_annex_b",
    "iso_utc",
    "jpeg_preview",
    "load_config",
    "make_dirs_durable",
    "mask_url",
    "nesting_depth",
    "now_ms",
    "parse_iso_ms",
    "read_history",
    "read_section",
    "read_url",
    "redact",
    "segment_source",
    "split_annex_b",
    "split_length_prefixed",
    "url_problem",
]
