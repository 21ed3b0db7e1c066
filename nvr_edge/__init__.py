"""nvr-edge: firmware for ARM network video recorders.

This module is the plugin API: a plugin imports only from `nvr_edge` (docs/PLUGINS.md).
Everything below it is the implementation and may change between releases.
"""

from nvr_edge.api import (
    Appliance,
    Command,
    CommandError,
    ConfigChange,
    ControlError,
    LiveRelay,
    LiveViewer,
    Param,
)
from nvr_edge.auth import (
    ALL_CAMERAS,
    Authenticator,
    AuthError,
    AuthSetupError,
    Grant,
    TokenIssueError,
    require,
)
from nvr_edge.catalog import Catalog, CatalogError, SegmentQuery
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
    read_section,
)
from nvr_edge.hookspecs import hookimpl
from nvr_edge.live.wire import LivePacket, StreamInfo
from nvr_edge.logs import redact
from nvr_edge.models import Alert, CameraState, SegmentRecord, Tier, iso_utc, now_ms, parse_iso_ms
from nvr_edge.plugins import DISABLE_AUTOLOAD_ENV, core_version

__version__ = core_version()

__all__ = [
    "ALL_CAMERAS",
    "DISABLE_AUTOLOAD_ENV",
    "SAFE_ID",
    "Alert",
    "Appliance",
    "AuthError",
    "AuthSetupError",
    "Authenticator",
    "CameraConfig",
    "CameraState",
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
    "Grant",
    "LivePacket",
    "LiveRelay",
    "LiveViewer",
    "Param",
    "SegmentQuery",
    "SegmentRecord",
    "StorageConfig",
    "StreamInfo",
    "Tier",
    "TokenIssueError",
    "__version__",
    "config_group",
    "config_key",
    "config_subtable",
    "describe_section",
    "hookimpl",
    "iso_utc",
    "now_ms",
    "parse_iso_ms",
    "read_section",
    "redact",
    "require",
]
