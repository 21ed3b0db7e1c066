"""A GStreamer RTSP client (run under the system Python, which has gi): decodes the
stream for a few seconds and prints {"frames": n, "width": w, "height": h} as JSON."""

import json
import sys

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

url, seconds, protocols = sys.argv[1], float(sys.argv[2]), sys.argv[3]
Gst.init(None)
pipeline = Gst.parse_launch(
    f'rtspsrc name=src location="{url}" protocols={protocols} latency=0 ! rtph264depay '
    "! h264parse ! avdec_h264 ! appsink name=sink sync=false max-buffers=5 drop=true")
sink = pipeline.get_by_name("sink")
pipeline.set_state(Gst.State.PLAYING)
frames, caps, left = 0, None, int(seconds * Gst.SECOND)
bus = pipeline.get_bus()
deadline = Gst.util_get_timestamp() + left
while Gst.util_get_timestamp() < deadline:
    sample = sink.emit("try-pull-sample", 100 * Gst.MSECOND)
    if sample is not None:
        frames += 1
        caps = sample.get_caps().get_structure(0)
    message = bus.pop_filtered(Gst.MessageType.ERROR)
    if message is not None:
        print(json.dumps({"error": message.parse_error()[0].message}))
        sys.exit(1)
pipeline.set_state(Gst.State.NULL)
print(json.dumps({"frames": frames, "width": caps and caps.get_value("width"),
                  "height": caps and caps.get_value("height")}))
