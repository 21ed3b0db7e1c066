"""nvr-edge plugin: every camera's live streams re-served at rtsp://<box>:8554/<camera>/<stream>,
fed by the appliance's live relay (one camera connection feeds all clients)."""
