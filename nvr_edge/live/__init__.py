"""Live relay: camera workers forward packets to the main process, which fans them out to
viewers (WebRTC, HLS, RTMP outputs are plugins that subscribe here)."""
