"""[encoders] in docs/CONFIG.md against its declared keys (the core sections' check)."""

from __future__ import annotations

from nvr_edge.encode.plugin import EncodersSettings
from tests.test_config_docs import CONFIG_MD, documentation_problems


def test_the_encoders_section_is_documented_with_its_defaults() -> None:
    assert documentation_problems(CONFIG_MD.read_text(), {"encoders": EncodersSettings}) == []
