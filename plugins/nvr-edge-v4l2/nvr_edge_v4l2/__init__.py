"""nvr-edge plugin: V4L2 capture devices (USB cameras) found through udev and offered as
`nvr_camera_candidates` of kind "v4l2"."""
