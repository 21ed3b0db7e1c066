"""nvr_edge.api: a command's argument schema refuses bad arguments with words that name
them, and lets good ones through unchanged (property-tested)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nvr_edge import Command, CommandError, ControlError, Param

START = Command("rtmp.start", "push a camera", run=lambda args: args, params={
    "camera": Param("string", "camera id"),
    "url": Param("string", "rtmp://host/app/key"),
    "bitrate": Param("integer", "kbit/s", required=False),
    "mode": Param("string", "how", required=False, choices=("copy", "transcode")),
})

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8)


def test_good_arguments_pass_unchanged() -> None:
    args = {"camera": "cam1", "url": "rtmp://x/a/k", "bitrate": 800, "mode": "copy"}
    assert START.checked(args) == args


@pytest.mark.parametrize(("args", "words"), [
    ({"url": "rtmp://x"}, "missing argument 'camera'"),
    ({"camera": "c", "url": "u", "cam": 1}, "unknown argument 'cam'"),
    ({"camera": 3, "url": "u"}, "argument 'camera': expected string, got int"),
    ({"camera": "c", "url": "u", "bitrate": True}, "'bitrate': expected integer, got bool"),
    ({"camera": "c", "url": "u", "mode": "x"}, "'mode': 'x' is not one of 'copy', 'transcode'"),
])
def test_bad_arguments_are_named(args: dict[str, Any], words: str) -> None:
    with pytest.raises(CommandError, match=words):
        START.checked(args)


@given(st.dictionaries(st.text(max_size=8), json_values, max_size=5))
def test_any_json_object_is_accepted_or_refused_with_a_command_error(args: dict) -> None:
    try:
        checked = START.checked(args)
    except CommandError as exc:
        assert str(exc).startswith("rtmp.start: ") or str(exc).startswith("argument ")
    else:
        assert checked == args and {"camera", "url"} <= set(args)


def test_a_command_error_is_a_control_error_and_the_schema_is_listed() -> None:
    assert issubclass(CommandError, ControlError)
    described = START.describe()
    assert described["params"]["mode"] == {"type": "string", "doc": "how", "required": False,
                                           "choices": ["copy", "transcode"]}
    with pytest.raises(ValueError, match="Param type 'str'"):
        Param("str")
