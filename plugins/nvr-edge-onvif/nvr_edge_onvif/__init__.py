"""nvr-edge plugin: ONVIF cameras on the LAN (WS-Discovery, then the device and media
services over SOAP) offered as `nvr_camera_candidates`."""
